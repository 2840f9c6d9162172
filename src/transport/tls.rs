//! `https://`: TLS over TCP with rustls. The server's certificate is checked
//! against the platform's roots and the Mozilla roots (webpki-roots), plus a
//! private CA given with `--cacert`; `--insecure` checks nothing (said in the
//! summary and the report); `--cert` / `--key` present a client certificate
//! (mutual TLS). ALPN offers HTTP/1.1, and HTTP/2 before it when the run
//! asks for it (`--http2`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, HandshakeKind, RootCertStore, SignatureScheme};

use super::connector::{Connected, Connector, tcp};

/// How `https://` connections are made, as the command line says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    /// A private CA's certificates (PEM), trusted beside the usual roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate: a self-signed server, at the cost of knowing
    /// nothing of who answers.
    pub insecure: bool,
    /// A client certificate chain and its private key (PEM), for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("--cacert {path}: {why}")]
    CaFile { path: String, why: String },
    #[error("--cert / --key: {0}")]
    ClientCert(String),
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The `https` connector, configured once per run.
#[derive(Clone)]
pub struct TlsConnector {
    /// ALPN offering HTTP/1.1 alone.
    connector: tokio_rustls::TlsConnector,
    /// ALPN offering HTTP/2, then HTTP/1.1 (the same session cache).
    offering_http2: tokio_rustls::TlsConnector,
    /// Without a client certificate: whether a server asked for one.
    asked: Option<Arc<AskedForCertificate>>,
}

impl TlsConnector {
    pub fn new(options: &TlsOptions) -> Result<TlsConnector, TlsSetupError> {
        let provider = Arc::new(ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if options.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
        } else {
            builder.with_root_certificates(roots(options.ca_file.as_deref())?)
        };
        let mut config = match &options.client_cert {
            Some((cert, key)) => {
                let chain = certificates(cert).map_err(TlsSetupError::ClientCert)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| TlsSetupError::ClientCert(format!("{}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsSetupError::ClientCert(e.to_string()))?
            }
            None => builder.with_no_client_auth(),
        };
        // Without a certificate, a server's request for one is noted: a
        // server that requires one refuses after the handshake, at a moment
        // that varies, as a broken connection that needs explaining (and a
        // server that only offers client authentication goes on).
        let asked = options
            .client_cert
            .is_none()
            .then(|| Arc::new(AskedForCertificate::default()));
        if let Some(asked) = &asked {
            config.client_auth_cert_resolver = asked.clone();
        }
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut offering_http2 = config.clone();
        offering_http2.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsConnector {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            offering_http2: tokio_rustls::TlsConnector::from(Arc::new(offering_http2)),
            asked,
        })
    }
}

/// The platform's roots and the Mozilla roots, and the private CA's.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // A platform store that cannot be read leaves the Mozilla roots.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let shown = path.display().to_string();
        let certs = certificates(path).map_err(|why| TlsSetupError::CaFile {
            path: shown.clone(),
            why,
        })?;
        for cert in certs {
            roots.add(cert).map_err(|e| TlsSetupError::CaFile {
                path: shown.clone(),
                why: format!("not a CA certificate rustls accepts: {e}"),
            })?;
        }
    }
    Ok(roots)
}

/// Every certificate of a PEM file: at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{shown}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{shown}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown}: no certificate in it (PEM expected)"));
    }
    Ok(certs)
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConnector")
    }
}

impl Connector for TlsConnector {
    fn scheme(&self) -> &'static str {
        "https"
    }

    fn failure_hint(&self) -> Option<&'static str> {
        self.asked
            .as_ref()
            .is_some_and(|a| a.asked())
            .then_some("the server asked for a client certificate: --cert FILE --key FILE")
    }

    fn default_port(&self) -> u16 {
        443
    }

    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
        offer_http2: bool,
    ) -> BoxFuture<'a, io::Result<Connected>> {
        async move {
            let name = ServerName::try_from(host.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = tcp(host, port).await?;
            let connector = match offer_http2 {
                true => &self.offering_http2,
                false => &self.connector,
            };
            let tls = connector.connect(name, stream).await.map_err(refused)?;
            let session = tls.get_ref().1;
            let resumed = session.handshake_kind() == Some(HandshakeKind::Resumed);
            let http2 = session.alpn_protocol() == Some(b"h2".as_slice());
            Ok(Connected {
                stream: Box::new(tls),
                tls_resumed: Some(resumed),
                http2: Some(http2),
            })
        }
        .boxed()
    }
}

/// No client certificate to give: notes that a server asked for one, and
/// gives none.
#[derive(Debug, Default)]
struct AskedForCertificate(std::sync::atomic::AtomicBool);

impl AskedForCertificate {
    fn asked(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl ResolvesClientCert for AskedForCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// A handshake that failed on the server's certificate says what to do.
fn refused(error: io::Error) -> io::Error {
    let certificate = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
    if !certificate {
        return error;
    }
    io::Error::new(
        error.kind(),
        format!(
            "the server's TLS certificate was refused: {error} (a private CA: --cacert FILE; \
             a self-signed certificate: --insecure)"
        ),
    )
}

/// `--insecure`: every certificate accepted, signatures still checked to be
/// well formed (the handshake needs them).
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let missing = TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        let error = TlsConnector::new(&missing)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
        let dir = std::env::temp_dir().join(format!("mcpstorm-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = TlsConnector::new(&TlsOptions {
            ca_file: Some(empty),
            ..TlsOptions::default()
        })
        .expect_err("refused")
        .to_string();
        assert!(error.contains("no certificate"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

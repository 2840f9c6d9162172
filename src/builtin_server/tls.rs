//! The built-in target over TLS (`serve --http ADDR --tls-cert … --tls-key
//! …`, or `--tls-self-signed DIR`): what mcpstorm's `https://` client is
//! tested against. The self-signed mode makes a private CA and a
//! certificate it signs for localhost, 127.0.0.1 and ::1, and writes the
//! CA's certificate to DIR/ca.pem for the client's `--cacert`, and a client
//! certificate it signs (DIR/client.pem, DIR/client.key) for `--cert` and
//! `--key`. `--tls-client-ca` asks every client for a certificate (mutual
//! TLS) signed by that CA (`self-signed`: the one made here).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsServeArgs {
    /// Over HTTP: serve TLS with this certificate chain (PEM), with --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// Over HTTP: the private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Over HTTP: serve TLS with a certificate for localhost, 127.0.0.1 and
    /// ::1 signed by a private CA made now, whose certificate is written to
    /// DIR/ca.pem (give it to the client: --cacert DIR/ca.pem).
    #[arg(long, value_name = "DIR")]
    pub tls_self_signed: Option<PathBuf>,
    /// Over TLS: require a client certificate signed by this CA (PEM), or by
    /// the one --tls-self-signed makes (`self-signed`): mutual TLS.
    #[arg(long, value_name = "FILE|self-signed")]
    pub tls_client_ca: Option<String>,
    /// Over TLS: wait this long before each handshake (a slow TLS
    /// terminator: its time belongs to the connection, not to any call).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub tls_accept_delay_ms: u64,
}

/// The acceptor the arguments ask for, offering HTTP/2 in ALPN when
/// `offer_http2`; `None` for plain HTTP.
pub fn acceptor(args: &TlsServeArgs, offer_http2: bool) -> std::io::Result<Option<TlsAcceptor>> {
    let (chain, key, made_ca) = match (&args.tls_cert, &args.tls_key, &args.tls_self_signed) {
        (Some(cert), Some(key), _) => (read_chain(cert)?, read_key(key)?, None),
        (_, _, Some(dir)) => {
            let made = self_signed(dir)?;
            (made.chain, made.key, Some(made.ca))
        }
        _ => return Ok(None),
    };
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?;
    let client_ca = match args.tls_client_ca.as_deref() {
        None => None,
        Some("self-signed") => Some(made_ca.ok_or_else(|| {
            std::io::Error::other("--tls-client-ca self-signed needs --tls-self-signed")
        })?),
        Some(file) => Some(
            read_chain(Path::new(file))?
                .into_iter()
                .next()
                .ok_or_else(|| std::io::Error::other(format!("{file}: no certificate")))?,
        ),
    };
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca).map_err(std::io::Error::other)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(std::io::Error::other)?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(std::io::Error::other)?;
    config.alpn_protocols = match offer_http2 {
        true => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        false => vec![b"http/1.1".to_vec()],
    };
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

fn read_chain(path: &Path) -> std::io::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
}

fn read_key(path: &Path) -> std::io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
}

/// What the self-signed mode made: the server's chain and key, and the CA.
struct Made {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: CertificateDer<'static>,
}

/// A private CA (its certificate written to `dir`/ca.pem), a certificate it
/// signs for the loopback names, and a client certificate it signs
/// (`dir`/client.pem, `dir`/client.key).
fn self_signed(dir: &Path) -> std::io::Result<Made> {
    let failed = |e: rcgen::Error| std::io::Error::other(format!("making a certificate: {e}"));
    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mcpstorm serve test CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(failed)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let signed = |names: Vec<String>| -> std::io::Result<(rcgen::Certificate, KeyPair)> {
        let key = KeyPair::generate().map_err(failed)?;
        let cert = CertificateParams::new(names)
            .map_err(failed)?
            .signed_by(&key, &issuer)
            .map_err(failed)?;
        Ok((cert, key))
    };
    let (leaf, leaf_key) = signed(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])?;
    let (client, client_key) = signed(vec!["mcpstorm-client".into()])?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    std::fs::write(dir.join("client.pem"), client.pem())?;
    std::fs::write(dir.join("client.key"), client_key.serialize_pem())?;
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(std::io::Error::other)?;
    Ok(Made {
        chain: vec![leaf.der().clone(), ca_cert.der().clone()],
        key,
        ca: ca_cert.der().clone(),
    })
}

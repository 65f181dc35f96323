# JupyterHub configuration for a data centre running hectornb (see docs/deploy.md).
#
# One trusted service, `hectornb serve` run by the Hub as the Unix user `hectornb`, holds the
# database credentials, the raw archive, the products, the Reduce runner and the TAP job
# runner, under /services/hectornb/. Users' servers hold no secret: the package in their
# image is a client of the service, with each user's own Hub token.
#
#     jupyterhub -f deploy/jupyterhub_config.py
#
# The site's choices are read from the Hub's environment (defaults in brackets):
#   HECTORNB_HUB_BIND_URL      where the Hub's proxy listens      [http://:8000]
#   HECTORNB_HUB_API_PORT      the Hub's own API, on loopback     [8081]
#   HECTORNB_SERVICE_PORT      the service, on loopback           [10101]
#   HECTORNB_SERVICE_USER      the Unix user the service runs as  [hectornb]
#   HECTORNB_SERVICE_HOME      the service's data directory       [/srv/hectornb]
#   HECTORNB_SERVICE_ENV_FILE  KEY=VALUE lines of the service's   [/etc/hectornb/service.env]
#                              settings (HECTORNB_DATABASE_URL, HECTORNB_SMTP_*, ...);
#                              readable by root only
#   HECTORNB_SERVICE_PUBLIC_URL the proxy as users' kernels reach [the bind URL, on loopback]
#   HECTORNB_PROXY_API_PORT    the proxy's own API, on loopback  [8001]
#   HECTORNB_HUB_ALLOWED_GROUP who may sign in: a Unix group     [every user the
#                                                                  authenticator accepts]
#   HECTORNB_DEMO              1: load the demo data at start     [0]
import os
import shlex
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

c = get_config()  # noqa: F821  (JupyterHub provides it)

hub_url = os.environ.get("HECTORNB_HUB_BIND_URL", "http://:8000")
api_port = int(os.environ.get("HECTORNB_HUB_API_PORT", "8081"))
service_port = int(os.environ.get("HECTORNB_SERVICE_PORT", "10101"))
service_user = os.environ.get("HECTORNB_SERVICE_USER", "hectornb")
service_home = os.environ.get("HECTORNB_SERVICE_HOME", "/srv/hectornb")
env_file = Path(os.environ.get("HECTORNB_SERVICE_ENV_FILE", "/etc/hectornb/service.env"))
bin_dir = Path(sys.prefix) / "bin"  # the environment JupyterHub and hectornb are installed in

c.JupyterHub.bind_url = hub_url
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{int(os.environ.get('HECTORNB_PROXY_API_PORT', '8001'))}")
# Who may sign in (JupyterHub >= 5 lets no one in without a rule): the members of a Unix
# group, or everyone the authenticator (PAM by default: the machine's users) accepts.
group = os.environ.get("HECTORNB_HUB_ALLOWED_GROUP")
if group:
    c.Authenticator.allowed_groups = {group}
    c.PAMAuthenticator.allowed_groups = {group}
else:
    c.Authenticator.allow_all = True
c.JupyterHub.cookie_secret_file = os.path.join(
    os.environ.get("HECTORNB_HUB_STATE", "/srv/jupyterhub"), "jupyterhub_cookie_secret"
)
c.JupyterHub.db_url = "sqlite:///" + os.path.join(
    os.environ.get("HECTORNB_HUB_STATE", "/srv/jupyterhub"), "jupyterhub.sqlite"
)
proxy = shutil.which("configurable-http-proxy")
if proxy:
    c.ConfigurableHTTPProxy.command = [proxy]

# --- the service: the only process with the database and the data ---------------------------
service_env = {
    "HECTORNB_HOME": service_home,
    "HECTORNB_RUNNER": os.environ.get("HECTORNB_RUNNER", "embedded"),
    "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
}
if env_file.exists():  # the site's secrets, given to the service alone
    for line in env_file.read_text().splitlines():
        # read as a shell reads it: comments, quotes, an optional `export`
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            words = words[1:]
        for word in words:
            key, sep, value = word.partition("=")
            if sep and key.startswith("HECTORNB_"):
                service_env[key] = value
command = [str(bin_dir / "hectornb"), "serve"]
if os.environ.get("HECTORNB_DEMO") == "1":
    command.append("--demo")

c.JupyterHub.services = [
    {
        "name": "hectornb",
        "display": True,  # listed on the Hub's home page
        "url": f"http://127.0.0.1:{service_port}",
        "command": command,
        "user": service_user,
        "cwd": service_home,
        "environment": service_env,
        "oauth_no_confirm": True,
    }
]

# --- who may use it ---------------------------------------------------------------------------
c.JupyterHub.load_roles = [
    {
        # every signed-in user may use the service, in the browser and with Hub tokens
        "name": "user",
        "scopes": ["self", "access:services!service=hectornb"],
    },
]

# --- users' servers: clients of the service, with nothing secret -------------------------------
c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
# terminals as plain (not login) shells: a login shell's /etc/profile would reset PATH and
# lose the environment's `hectornb` and `python`
c.Spawner.args = ["--ServerApp.terminado_settings={'shell_command': ['/bin/bash']}"]
# JUPYTERHUB_API_TOKEN in a user's server may call the service as that user, and no one else
c.Spawner.server_token_scopes = [
    "access:servers!server",
    "users:activity!user",
    "access:services!service=hectornb",
]
bind = urlparse(hub_url)
proxy_here = f"{bind.scheme}://127.0.0.1:{bind.port or (443 if bind.scheme == 'https' else 80)}"
c.Spawner.environment = {
    "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
    # the service through the Hub's proxy, as the user's kernels reach it (with TLS at the
    # proxy, give its public name: a certificate does not name 127.0.0.1)
    "HECTORNB_SERVICE_URL": os.environ.get("HECTORNB_SERVICE_PUBLIC_URL", proxy_here).rstrip("/")
    + "/services/hectornb",
}
# LocalProcessSpawner passes only these of the Hub's own environment to a user's server:
# never HECTORNB_DATABASE_URL or any other secret of the service.
c.Spawner.env_keep = ["LANG", "LC_ALL"]

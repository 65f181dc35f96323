"""What several test areas share: the platform served, Chromium, the JupyterHub, fixtures."""

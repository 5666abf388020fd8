"""How ``clinphoto serve`` meets the network: TLS (ward CA or hospital certificate), the plain-HTTP
trust page and redirect, forwarded headers from trusted proxies, the listener's own limits and
the access log. The Starlette app in ``app.py`` knows nothing of this."""

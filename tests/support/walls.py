"""Pages that walls serve instead of a PDF, as their vendors and sites write them (shared by
the classifier's table test and the end-to-end tests that serve them)."""

CLOUDFLARE = b"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"><script src="/cdn-cgi/challenge-platform/h/b/orchestrate/
chl_page/v1?ray=8a1b2c3d4e5f"></script></head><body><div class="main-wrapper" role="main">
<h1>www.example.org</h1><p>Verifying you are human. This may take a few seconds.</p>
<noscript>Enable JavaScript and cookies to continue</noscript></div></body></html>"""

CLOUDFLARE_NO_SCRIPT = b"""<html><head><title>Just a moment...</title></head>
<body>Checking your browser before accessing the site.</body></html>"""

SHIELDSQUARE = b"""<html><head><title>ShieldSquare Captcha</title></head><body>
<form action="https://validate.perfdrive.com/captcha" method="post"><div class="g-recaptcha"
data-sitekey="6Lc"></div></form></body></html>"""

PERIMETERX = b"""<html><head><title>Access to this page has been denied.</title></head><body>
<div id="px-captcha"></div><script>window._pxAppId = 'PXabc';</script></body></html>"""

DATADOME = b"""<html><head><title>publisher.example</title></head><body><script
src="https://ct.captcha-delivery.com/c.js"></script></body></html>"""

HCAPTCHA = b"""<html><body><form><div class="h-captcha" data-sitekey="x"></div>
<script src="https://hcaptcha.com/1/api.js" async defer></script></form></body></html>"""

PMC_POW = b"""<!DOCTYPE html><html><head><title>Preparing to download ...</title></head><body>
<script>document.cookie = "cloudpmc-viewer-pow=" + solve(challenge) + "; path=/";
location.reload();</script></body></html>"""

RATE_LIMIT_PAGE = b"""<html><head><title>Too Many Requests</title></head><body><h1>Too Many
Requests</h1><p>You have sent too many requests in a given amount of time.</p></body></html>"""

COOKIES = b"""<html><head><title>Cookies</title></head><body><h2>Cookies must be enabled to
view this site.</h2><p>Please enable cookies in your browser and try again.</p></body></html>"""

LOGIN = b"""<html><head><title>Sign in</title></head><body><form method="post" action="/login">
<label>Email <input type="email" name="user"></label><label>Password <input name="pass"
type="password"></label><button>Sign in</button></form></body></html>"""

SHIBBOLETH = b"""<html><head><title>Institutional login</title></head><body><form
action="https://idp.university.example/idp/profile/SAML2/Redirect/SSO" method="post">
<p>Sign in via Shibboleth or OpenAthens</p></form></body></html>"""

PAYWALL = b"""<html><head><title>Some Article | Journal</title></head><body><h1>Some Article</h1>
<div class="access-options"><a href="/buy">Purchase this article</a> for $39.95.
<a href="/institution">Access through your institution</a></div></body></html>"""

ORDINARY_404 = b"""<html><head><title>Page not found</title></head><body><header><form
action="/login"><input type="password" name="p"></form></header><h1>404</h1></body></html>"""

LANDING = b"""<html><head><title>An article</title></head><body><h1>An article</h1>
<p>Abstract: we show things.</p></body></html>"""

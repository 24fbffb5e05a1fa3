"""Security settings: passwords, the sign-in lockout, cookies, the response headers and HTTPS in production."""

from __future__ import annotations

from datetime import timedelta

from genai_platform.settings.environment import DEBUG, env

# ------------------------------------------------------------------------------
# PASSWORDS
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ------------------------------------------------------------------------------
# SIGN-IN LOCKOUT (django-axes): the web log-in, the admin log-in and the API token endpoint
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# ------------------------------------------------------------------------------
# The axes backend comes first: it refuses a locked-out attempt before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed sign-ins that lock out, counted within the cool-off period for an account (from any address) and
# for a client address (on any accounts); the lock lasts the cool-off period after the last attempt.
AXES_FAILURE_LIMIT = env.int("GENAI_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("GENAI_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success does not clear the count: otherwise signing in to one's own account would reset an address's count.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "genai_platform.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "generation.lockout.lockout_response"
# The audit log is the record of sign-ins; axes keeps only the counts it needs.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# ------------------------------------------------------------------------------
# SECURITY
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# ------------------------------------------------------------------------------
# Reverse proxies in front of the platform that append to X-Forwarded-For; 0: no proxy, the client is
# REMOTE_ADDR and the header is ignored. The one setting from which the client address is read everywhere:
# the API's throttles, the audit log and the sign-in lockout (genai_platform.client_address).
TRUSTED_PROXY_COUNT = env.int("GENAI_TRUSTED_PROXY_COUNT", default=0)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Pages load scripts, styles, images and fonts from the platform's own origin only (static files and its views):
# no inline code, no eval, no other site. Templates therefore keep scripts and styles in static files. data:
# images are allowed for the icons the admin's and Swagger UI's stylesheets embed. django-csp writes the header.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Links to other sites carry no path or query of ours (SecurityMiddleware writes the header).
SECURE_REFERRER_POLICY = "same-origin"
# Browser features no page of the platform uses, switched off for it and anything it embeds
# (genai_platform.middleware writes the header).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe these over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

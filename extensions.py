"""Flask extensions, created unbound here and bound to the app in `create_app`.

Security headers are not an extension here: utils/request_middleware.py sets them, computed once.
"""
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from utils.request_middleware import client_key, log_rate_limit_breach

# Stable constraint names, so migrations can name what they alter on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
# Limits are declared per route (later issues set them); storage and behaviour come from RATELIMIT_* config.
limiter = Limiter(key_func=client_key, on_breach=log_rate_limit_breach)
# Session-based login for staff and admins; services/auth.py configures it.
login_manager = LoginManager()

"""The legacy "Toutiao" follow endpoint, rebuilt as the baseline for bench/run.

Only POST /app/v1_0/user/followings, done the way the legacy Flask app does it: a flask-restful
resource behind a blueprint, the JWT read in a before_request hook and checked by a decorator, a
reqparse type that looks the target up, an INSERT that falls back to an UPDATE on IntegrityError,
then the legacy cache writes to Redis one command at a time, and the legacy JSON envelope.

Configuration from the environment: DATABASE_URL (PostgreSQL), REDIS_URL, JWT_SECRET.
Served by gunicorn with gunicorn.conf.py; see README.md.
"""

import json
import os
import time
import warnings
from datetime import datetime, timezone
from functools import wraps

import jwt
from flask import Blueprint, Flask, current_app, g, make_response, request
from flask_restful import Api, Resource
from flask_restful.reqparse import RequestParser
from flask_sqlalchemy import SQLAlchemy
from redis import RedisError, StrictRedis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only

db = SQLAlchemy()

# PyJWT 2 warns on every token signed with a secret shorter than 32 bytes, as the bench's is;
# the PyJWT 1.x of the legacy app did not.
warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)

# The legacy app updated a cached list only while its key had more than this many seconds to live.
ALLOW_UPDATE_FOLLOW_CACHE_TTL_LIMIT = 5


def now():
    # The legacy app wrote naive local times (datetime.now) into MySQL DATETIME columns; the
    # columns here are TIMESTAMPTZ, so the time is written with its zone.
    return datetime.now(timezone.utc)


# --- models (the legacy tables) -------------------------------------------------------------


class User(db.Model):
    __tablename__ = "user_basic"

    id = db.Column("user_id", db.BigInteger, primary_key=True)
    name = db.Column("user_name", db.String(32))


class Relation(db.Model):
    __tablename__ = "user_relation"

    class RELATION:
        DELETE = 0
        FOLLOW = 1
        BLACKLIST = 2

    id = db.Column("relation_id", db.BigInteger, primary_key=True)
    user_id = db.Column(db.BigInteger)
    target_user_id = db.Column(db.BigInteger)
    relation = db.Column(db.SmallInteger)
    ctime = db.Column("create_time", db.DateTime(timezone=True), default=now)
    utime = db.Column("update_time", db.DateTime(timezone=True), default=now, onupdate=now)


# --- authentication -------------------------------------------------------------------------


def verify_jwt(token):
    try:
        return jwt.decode(token, current_app.config["JWT_SECRET"], algorithms=["HS256"])
    except jwt.PyJWTError:
        return None


def jwt_authentication():
    """before_request: who is calling, if the token says so."""
    g.user_id = None
    g.is_refresh_token = False
    authorization = request.headers.get("Authorization")
    if authorization and authorization.startswith("Bearer "):
        payload = verify_jwt(authorization.strip()[7:])
        if payload:
            g.user_id = payload.get("user_id")
            g.is_refresh_token = payload.get("refresh")


def login_required(func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        if not g.user_id:
            return {"message": "User must be authorized."}, 401
        if g.is_refresh_token:
            return {"message": "Do not use refresh token."}, 403
        return func(*args, **kwargs)

    return wrapper


# --- request parsing ------------------------------------------------------------------------


def user_id(value):
    """reqparse type: a positive integer naming a user in user_basic."""
    try:
        uid = int(value)
    except (TypeError, ValueError):
        raise ValueError("Invalid target user id.")
    if uid <= 0 or db.session.get(User, uid, options=[load_only(User.id)]) is None:
        raise ValueError("Invalid target user id.")
    return uid


# --- the legacy cache writes ----------------------------------------------------------------


def redis_call(command, *args):
    """One command to Redis; the cache never fails a request, as in the legacy app."""
    try:
        return getattr(current_app.redis, command)(*args)
    except RedisError as e:
        current_app.logger.error(e)
        return None


class UserListCache:
    """user:{id}:following or user:{id}:fans, updated only while the key lives."""

    def __init__(self, user, side):
        self.key = "user:{}:{}".format(user, side)

    def add(self, member, timestamp):
        ttl = redis_call("ttl", self.key)
        if ttl is not None and ttl > ALLOW_UPDATE_FOLLOW_CACHE_TTL_LIMIT:
            redis_call("zadd", self.key, {member: timestamp})


def incr_count(key, user, increment=1):
    redis_call("zincrby", key, increment, user)


def clear_relationship(user):
    redis_call("delete", "user:{}:relationship".format(user))


# --- the resource ---------------------------------------------------------------------------


class FollowingListResource(Resource):
    method_decorators = {"post": [login_required]}

    def post(self):
        parser = RequestParser()
        parser.add_argument("target", type=user_id, required=True, location="json")
        target = parser.parse_args().target
        if target == g.user_id:
            return {"message": "User cannot follow self."}, 400

        changed = 1
        try:
            db.session.add(
                Relation(user_id=g.user_id, target_user_id=target, relation=Relation.RELATION.FOLLOW)
            )
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            changed = (
                Relation.query.filter(
                    Relation.user_id == g.user_id,
                    Relation.target_user_id == target,
                    Relation.relation != Relation.RELATION.FOLLOW,
                ).update({"relation": Relation.RELATION.FOLLOW})
            )
            db.session.commit()

        if changed > 0:
            timestamp = time.time()
            UserListCache(g.user_id, "following").add(target, timestamp)
            UserListCache(target, "fans").add(g.user_id, timestamp)
            incr_count("count:user:followings", g.user_id)
            incr_count("count:user:followers", target)
            clear_relationship(g.user_id)

        return {"target": target}, 201


def output_json(data, code, headers=None):
    """The legacy envelope: {"message": "OK", "data": …} unless the body has its own message."""
    if "message" not in data:
        data = {"message": "OK", "data": data}
    response = make_response(json.dumps(data), code)
    response.headers.extend(headers or {})
    return response


# --- the app --------------------------------------------------------------------------------


def create_app():
    app = Flask(__name__)
    app.config["JWT_SECRET"] = os.environ["JWT_SECRET"]
    # postgres://… as the other services take it; SQLAlchemy names the driver in the scheme.
    url = os.environ["DATABASE_URL"].split("://", 1)[1]
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg2://" + url
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
    db.init_app(app)
    app.redis = StrictRedis.from_url(os.environ["REDIS_URL"])
    app.before_request(jwt_authentication)

    user_bp = Blueprint("user", __name__)
    user_api = Api(user_bp, catch_all_404s=True)
    user_api.representation("application/json")(output_json)
    user_api.add_resource(FollowingListResource, "/v1_0/user/followings", endpoint="Followings")
    app.register_blueprint(user_bp, url_prefix="/app")
    return app


app = create_app()

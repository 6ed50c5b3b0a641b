"""The legacy "Toutiao" follow views, rebuilt as the baseline for bench/run and as the legacy
app beside followgraph in its side-by-side test.

POST, GET and DELETE /app/v1_0/user/followings, done the way the legacy Flask app does them: a
flask-restful resource behind a blueprint, the JWT read in a before_request hook and checked by
a decorator, a reqparse type that looks the target up, an INSERT that falls back to an UPDATE on
IntegrityError, the legacy cache writes to Redis one command at a time, lists read from the
legacy zsets (filled from the database on a miss), and the legacy JSON envelope.

Configuration from the environment: DATABASE_URL (postgres://… or mysql://…), REDIS_URL,
JWT_SECRET. Served by gunicorn with gunicorn.conf.py; see README.md.
"""

import json
import os
import random
import warnings
from datetime import datetime, timezone
from functools import wraps

import jwt
from flask import Blueprint, Flask, current_app, g, make_response, request
from flask_restful import Api, Resource, inputs
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
# The legacy lists' TTL: 30 minutes plus up to 10 so that fills do not expire together.
FOLLOW_CACHE_TTL = 30 * 60
FOLLOW_CACHE_TTL_JITTER = 10 * 60
# flask-restful's bounds on a list's page size in the legacy app.
PER_PAGE_MIN, PER_PAGE_MAX = 10, 50

# SQLAlchemy names the driver in the scheme; the other services take the plain one.
DRIVERS = {
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
}


def now():
    """The row times: on MySQL naive local times (datetime.now) cut to the second that a
    DATETIME column keeps, as the legacy app wrote them; on PostgreSQL the columns are
    TIMESTAMPTZ and get the zone."""
    if current_app.config["NAIVE_LOCAL_TIMES"]:
        return datetime.now().replace(microsecond=0)
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
    """user:{id}:following or user:{id}:fans: updated only while the key lives, read newest
    first, filled from the database on a miss."""

    def __init__(self, user, side):
        self.user = user
        self.side = side
        self.key = "user:{}:{}".format(user, side)

    def _alive(self):
        ttl = redis_call("ttl", self.key)
        return ttl is not None and ttl > ALLOW_UPDATE_FOLLOW_CACHE_TTL_LIMIT

    def add(self, member, timestamp):
        if self._alive():
            redis_call("zadd", self.key, {member: timestamp})

    def remove(self, member):
        if self._alive():
            redis_call("zrem", self.key, member)

    def ids(self):
        """The list, newest first: from Redis, or from the database and then into Redis."""
        cached = redis_call("zrevrange", self.key, 0, -1)
        if cached:
            return [int(member) for member in cached]
        if self.side == "following":
            mine, other = Relation.user_id, Relation.target_user_id
        else:
            mine, other = Relation.target_user_id, Relation.user_id
        rows = (
            db.session.query(other, Relation.utime)
            .filter(mine == self.user, Relation.relation == Relation.RELATION.FOLLOW)
            .order_by(Relation.utime.desc())
            .all()
        )
        if rows:
            pipe = current_app.redis.pipeline()
            pipe.zadd(self.key, {member: utime.timestamp() for member, utime in rows})
            pipe.expire(self.key, FOLLOW_CACHE_TTL + random.randint(0, FOLLOW_CACHE_TTL_JITTER))
            try:
                pipe.execute()
            except RedisError as e:
                current_app.logger.error(e)
        return [member for member, _ in rows]


def incr_count(key, user, increment=1):
    redis_call("zincrby", key, increment, user)


def count_of(key, user):
    """A count from the legacy count storage: a missing member is zero."""
    score = redis_call("zscore", key, user)
    return int(score) if score else 0


def clear_relationship(user):
    redis_call("delete", "user:{}:relationship".format(user))


# --- the resource ---------------------------------------------------------------------------


class FollowingListResource(Resource):
    method_decorators = [login_required]

    def post(self):
        parser = RequestParser()
        parser.add_argument("target", type=user_id, required=True, location="json")
        target = parser.parse_args().target
        if target == g.user_id:
            return {"message": "User cannot follow self."}, 400

        changed = 1
        at = now()
        try:
            db.session.add(
                Relation(
                    user_id=g.user_id,
                    target_user_id=target,
                    relation=Relation.RELATION.FOLLOW,
                    ctime=at,
                    utime=at,
                )
            )
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            changed = (
                Relation.query.filter(
                    Relation.user_id == g.user_id,
                    Relation.target_user_id == target,
                    Relation.relation != Relation.RELATION.FOLLOW,
                ).update({"relation": Relation.RELATION.FOLLOW, "utime": at})
            )
            db.session.commit()

        if changed > 0:
            timestamp = at.timestamp()
            UserListCache(g.user_id, "following").add(target, timestamp)
            UserListCache(target, "fans").add(g.user_id, timestamp)
            incr_count("count:user:followings", g.user_id)
            incr_count("count:user:followers", target)
            clear_relationship(g.user_id)

        return {"target": target}, 201

    def get(self):
        parser = RequestParser()
        parser.add_argument("page", type=inputs.positive, required=False, location="args")
        parser.add_argument(
            "per_page",
            type=inputs.int_range(PER_PAGE_MIN, PER_PAGE_MAX, "per_page"),
            required=False,
            location="args",
        )
        args = parser.parse_args()
        page = args.page or 1
        per_page = args.per_page or PER_PAGE_MIN

        followings = UserListCache(g.user_id, "following").ids()
        followers = set(UserListCache(g.user_id, "fans").ids())
        shown = followings[(page - 1) * per_page : page * per_page]
        users = {u.id: u for u in User.query.filter(User.id.in_(shown)).all()} if shown else {}
        results = [
            {
                "id": uid,
                "name": users[uid].name if uid in users else None,
                "fans_count": count_of("count:user:followers", uid),
                "mutual_follow": uid in followers,
            }
            for uid in shown
        ]
        return {"total_count": len(followings), "page": page, "per_page": per_page, "results": results}


class FollowingResource(Resource):
    method_decorators = [login_required]

    def delete(self, target):
        changed = Relation.query.filter(
            Relation.user_id == g.user_id,
            Relation.target_user_id == target,
            Relation.relation == Relation.RELATION.FOLLOW,
        ).update({"relation": Relation.RELATION.DELETE, "utime": now()})
        db.session.commit()
        if changed > 0:
            UserListCache(g.user_id, "following").remove(target)
            UserListCache(target, "fans").remove(g.user_id)
            incr_count("count:user:followings", g.user_id, -1)
            incr_count("count:user:followers", target, -1)
            clear_relationship(g.user_id)
        return {"message": "OK"}, 204


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
    scheme, rest = os.environ["DATABASE_URL"].split("://", 1)
    app.config["SQLALCHEMY_DATABASE_URI"] = DRIVERS[scheme] + "://" + rest
    app.config["NAIVE_LOCAL_TIMES"] = scheme == "mysql"
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
    db.init_app(app)
    app.redis = StrictRedis.from_url(os.environ["REDIS_URL"])
    app.before_request(jwt_authentication)

    user_bp = Blueprint("user", __name__)
    user_api = Api(user_bp, catch_all_404s=True)
    user_api.representation("application/json")(output_json)
    user_api.add_resource(FollowingListResource, "/v1_0/user/followings", endpoint="Followings")
    user_api.add_resource(
        FollowingResource, "/v1_0/user/followings/<int:target>", endpoint="Following"
    )
    app.register_blueprint(user_bp, url_prefix="/app")
    return app


app = create_app()

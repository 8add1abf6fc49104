from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "idempotency_keys" (
    "id" UUID NOT NULL PRIMARY KEY,
    "actor" VARCHAR(255) NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "method" VARCHAR(10) NOT NULL,
    "path" TEXT NOT NULL,
    "body_hash" VARCHAR(64) NOT NULL,
    "status_code" INT,
    "response_body" TEXT,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_idempotency_actor_831b3e" UNIQUE ("actor", "key")
);
COMMENT ON TABLE "idempotency_keys" IS 'The first answer to a request sent with an Idempotency-Key, replayed for retries.';
        CREATE TABLE IF NOT EXISTS "webhook_subscriptions" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "name" VARCHAR(100) NOT NULL,
    "url" TEXT NOT NULL,
    "events" JSONB NOT NULL,
    "project_id" VARCHAR(100),
    "secret" TEXT NOT NULL,
    "active" BOOL NOT NULL
);
        CREATE TABLE IF NOT EXISTS "worker_cursors" (
    "name" VARCHAR(100) NOT NULL PRIMARY KEY,
    "position" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "worker_cursors" IS 'Where a worker that tails the event log has got to.';
        CREATE TABLE IF NOT EXISTS "trigger_attempts" (
    "id" UUID NOT NULL PRIMARY KEY,
    "attempt" INT NOT NULL,
    "platform" VARCHAR(50) NOT NULL,
    "worker" VARCHAR(255) NOT NULL,
    "status" VARCHAR(20) NOT NULL,
    "error" TEXT,
    "response" JSONB NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "resume_request_id" UUID NOT NULL REFERENCES "resume_requests" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_trigger_att_resume__57712e" UNIQUE ("resume_request_id", "attempt")
);
COMMENT ON TABLE "trigger_attempts" IS 'One try of the orchestrator to start a CI job for a resume request.';
        CREATE TABLE IF NOT EXISTS "webhook_deliveries" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "build_id" UUID,
    "status" VARCHAR(20) NOT NULL,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMPTZ,
    "last_status_code" INT,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ,
    "lease_owner" VARCHAR(255),
    "lease_expires_at" TIMESTAMPTZ,
    "event_id" BIGINT NOT NULL REFERENCES "events" ("id") ON DELETE CASCADE,
    "subscription_id" UUID NOT NULL REFERENCES "webhook_subscriptions" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_webhook_del_subscri_130c45" UNIQUE ("subscription_id", "event_id")
);
CREATE INDEX IF NOT EXISTS "idx_webhook_del_status_5365ad" ON "webhook_deliveries" ("status");
COMMENT ON TABLE "webhook_deliveries" IS 'One event for one subscription; retried until delivered or given up.';
        CREATE TABLE IF NOT EXISTS "webhook_delivery_attempts" (
    "id" UUID NOT NULL PRIMARY KEY,
    "attempt" INT NOT NULL,
    "status_code" INT,
    "error" TEXT,
    "duration_ms" INT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "delivery_id" UUID NOT NULL REFERENCES "webhook_deliveries" ("id") ON DELETE CASCADE
);
        ALTER TABLE "build_artifacts" ADD "storage_deleted_at" TIMESTAMPTZ;
        ALTER TABLE "build_artifacts" ADD "deleted_reason" VARCHAR(50);
        ALTER TABLE "resume_requests" ADD "next_attempt_at" TIMESTAMPTZ;
        ALTER TABLE "resume_requests" ADD "stalled_at" TIMESTAMPTZ;
        ALTER TABLE "resume_requests" ADD "lease_owner" VARCHAR(255);
        ALTER TABLE "resume_requests" ADD "lease_expires_at" TIMESTAMPTZ;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "build_artifacts" DROP COLUMN "storage_deleted_at";
        ALTER TABLE "build_artifacts" DROP COLUMN "deleted_reason";
        ALTER TABLE "resume_requests" DROP COLUMN "next_attempt_at";
        ALTER TABLE "resume_requests" DROP COLUMN "stalled_at";
        ALTER TABLE "resume_requests" DROP COLUMN "lease_owner";
        ALTER TABLE "resume_requests" DROP COLUMN "lease_expires_at";
        DROP TABLE IF EXISTS "trigger_attempts";
        DROP TABLE IF EXISTS "webhook_deliveries";
        DROP TABLE IF EXISTS "webhook_subscriptions";
        DROP TABLE IF EXISTS "idempotency_keys";
        DROP TABLE IF EXISTS "webhook_delivery_attempts";
        DROP TABLE IF EXISTS "worker_cursors";"""


MODELS_STATE = (
    "eJztXWtz2zYW/SscferOuBlHfiTt7uyMnbhdNw93HKfpNNPhQBIkMaYIlQTtaLv57wvwJT"
    "4AiqBIioTvl92GxKXoc0EA99yDi79HKzLDtvfsYm29wZvRj8bfIwetMPuP3J0jY4TW6+11"
    "foGiiR00RWvLvMeb4CKaeNRFU8quz5HtYXZphr2pa62pRRx21fFtm18kU9bQchbbS75j/e"
    "Vjk5IFpkvsshuf/2SXLWeGv2Iv/uf63pxb2J5lXtaa8d8Orpt0sw6uffx4/fqnoCX/uYk5"
    "Jba/crat1xu6JE7S3Pet2TNuw+8tsINdRPEs9Wfwt4z+4vhS+MbsAnV9nLzqbHthhufItz"
    "kYo3/NfWfKMTCCX+L/c/rv6NVSzUzz/c2d+eHqzjRHCthNicNxtxzKgfr7W/jcLSDB1RH/"
    "gVf/ubj97uT8HwEExKMLN7gZwDX6FhgiikLTAPQtylMXc0xMRItov2Z3qLXCYsSzljnkZ5"
    "Hps/g/6nggvrB1wbb7xeDG8LUA+Ij9gbMbx95Evi9xwN31u6sPdxfvfuU/t/K8v+wAv4u7"
    "K35nHFzd5K5+F/qLsC8r/OSShxifru/+Y/B/Gn/cvL/KezVpd/fHiL8T8ikxHfJoolmqm8"
    "ZXY9RYy63X/fWsptezluD1vng9xijl9ujtt14P/r/g71dL5Ip9HbfPeZmh1c542qZXV+ir"
    "aWNnQZfsn8+Pj0vc+tvFbTCgslY5X72Pbo3De98y6LLZ0lwib6mCcNpGO5TPTyuAfH4qxZ"
    "jfykK8dvHc+qoC8NaiGXgPPThlu/G4Si8eyzvxOA+wNyX8GQWAf/lw814M8NYiPxdYU2r8"
    "z7Atj7YFdGr9NfEtm1qO94z/3iGWYByhzDQQw/zdu4vf8x549fbmMj++8wdc5tzh4gdyX2"
    "uazlo2ME1Hw0hfPoThzsrFxZiNPGr6Xi0/523B033zNI9v5/ep2ItfmKDp/SNyZ2bhDhkT"
    "WdvirdV4lb+CHLQInMTR5O8Zx/wuteZhDF/kA+J7R2WMAB9iWTeL2rZPDHwOf5H/jkdZd2"
    "W9foZHfwJfAHxBTxdnw4wcgS94il6vwhekht2C168dKgkIMkY5hzPQhujiBX+J78fPT1+c"
    "vjw5P33JmgQvmlx5UeL16/d3uWV9PIeaqoRMwVDDoHZ8dlYhqmWtpGFtcE+CeIBUHcRjQw"
    "0Rb4UNS4BbIyqgxO7wV8n4UTDUAvGyWeHq97ty5iCZFN7evP85bp6nE3JEDmX3F9jkwQN2"
    "BCtjeZcXmNZyQc/iyA76fIycixf85WpgvrUEyJUgn/isswoWpxW6eWKpH+StzKUxcPehhK"
    "DquJ4z0wHszgd167+sv26oiKG/tBbyJXnGrtaSvGfIRyvyH8bjk5MX4+OT85dnpy9enL08"
    "TpbmxVtla/TL65/5Mj3jgeK6fbrE03vPX6kMM2kbHfp8BwNMDJmJ7AVxLbqsBXjWurtF5M"
    "hbovHZeVusXhb/sypT6pl8Rj0rTKiWxxYhDL4AguIoQ4iNkSOhVHOmOcwnzLYt0GOqtdtB"
    "/vLm5m1mkL+8zo/iH99dXrFFTeAA1siikqGFYTe3HGSrQ56YdQh3cmWweOOva4t11hqEZt"
    "YS8m394S+LtPUKU8QzGUUfywUNaZt+SBr4z2ojaXjAricMjqWr15RFd2zy83YXro1RyTNs"
    "43qJmawljGN9HsdiX7kYeWrEUtFSvyCk+UVwzFXU/7rET4CvrM9fWShwUZORpG2aFJP016"
    "07tCMFuVMO3yK4PxEXWwvnDd4EEF+zF0HOVBRBRnKly/g5wwR1e3X7ObvoMVE0ZfoU++vD"
    "ISSA/uLDq4vXV6Nvh5GQhbgL9GOJQ3aIx1rQjH0erV3yBYfatRA4x19N2M0/YZ8Z6MYGMS"
    "4MVEEEurGn6PUqurHMOFzwuzTQz5uBdkwQ8K9tROfEVUqJpG30C/9a0RUQz5QyVXKgs1YA"
    "dSWorRUPlFWFeVkrgLqiWgZRXyAeKFPJxBZtZVCLq901dmYcqE5wHleBeSxHeVwAeeq7Ln"
    "aoGQihFaa/gl1389/xQCa/YLeb50+n2PPmvq0MsdReI01MY2DPkWWzBbgqxnkzgLYILeQl"
    "e5eXDJQrfN+K7whiVWlvz5vBmJ3v65DwbRRONq66dVNSaUtIRfWHQCnyZnPLsbxlLTfnTM"
    "HPffZzlLwQJh3LitqkrbTYH9VS8FuSjUzljfbMR/66fdLAUK+akcx2uExO8pZ9A7fXr+7K"
    "kpLFXYGiDQyR6U9vbrGNqHgBIChYoQnkmWHhC5nsiVCQkv2FTHRFKAgvm8DoQxyn6ohSFJ"
    "24mL2yt+9Hdxs87DZ8lq6IPSDX4u+/J1a/RY/RCabWpSV8uJKpS6KhbFd1onjg7KowUUqb"
    "AIWJQGDS0096oFIDEJg8Ra9XEZgcRATRO/+2LIJfW2tsWw5WrlJUMNQvO9/Kvme2eFHGOm"
    "0DMFeG2XcFO23ltStSJjqA3HXdCg6fGsO5tdAB7w46dbnkUg70Ds2lBnC3IqRiL7BYYJct"
    "HyeCIjhyuPN2+sHdSu+OYDM94rtTpfmxaNlhJZAVcvywNsMQdWx9FAsKQB64WhDy+U8hzz"
    "slq3XdrcR5W/B0nz0dF0HCnIsWJBGqFFBKbKGkj0JJnxC6mTl3yUpZtSo2Bu0q6PlahhOK"
    "DjSSF0rRlijYRSHjHOSoFgz3gLZnY0AzyGbVBIroCo0BYSiY0UnBDPEA0RS01XRW/eyxu7"
    "V/+WExgzB7C+P9x7dvRyUjRQMwq2qPBoq1cJCU4F1Fbjldst7J3CeIQ9rREg4E9/a1TKGs"
    "UKZmSkSHu/RMW5njTkXT6GLNqbDviWNvjMDOWFq8DNnm2SgH1o6moIAapgIKjmtqbcvVAI"
    "jw7jI8jXPgK+x5bCwtIizPyKdMdMihdZ2Rhw3IvduAjF2XuGaNT6FgCB+E+gcRgiieO+Xj"
    "fNZKB9w70E64mLqbGsdLZOzqZUZ6BnY3eREQxst7+zAl0iCMf4peryKMh2wSMPJ9IDL7Ws"
    "L66gEH71yg5cIbR2WMHOZNqnJx/syiBofI/tEgDjZc8missWtMl8hZMINH16IUO4blGHSJ"
    "eUvHQ2F4Q+bBpbClgLtr9NG7uT4lUq/sFELhCCNgmKL+tB+f1z691MnZg7psd+zUP8Oc3q"
    "ss6thnTJTk/YmBjjxkKwfFT6lQ3FQK8T71fvuNcTubJ5DLZpsQJwWgc2Yaot38Hs4IM7XN"
    "VxkjDWFupVMfrJJXzzitDqA+YJC7G+wuVzpNyfrkej55zy0V8mnQc89PK3Tc81Npv+W38j"
    "iLD++TZ3b0OrSv65SOan4TcpsxPuWuqJjbLLBoVQRrM2xbD9i19q2/9QlPloTcvw4ftxng"
    "kuUg0rXrGV6tCcXOdPMGb0YCnizX4qiMMLO2bc17vKlInd0tsTG3XI8ayPEesWtQYiAjmm"
    "4MDzvUeLTokt01Ui/zPXubI9ZqbaMNnhlz4ho8X8g6UpFBa+UXhGfTJeE3+/PhQLp+qeWA"
    "S2mbS7nHSrURouaAbjV0V2ycIUpL9q2Fhhg/rxZolsSZhYgesQcrrNbj9lqA2/VifUJmG3"
    "OJPAHiJcVr0kZawN52DBoKk+toxFNWsCtauPl8zX4Bm7xPqsX4OUMI9dVHj2ElQ0Hs9GPt"
    "bKgCq9BmoBwf+SCIkFOnQchD44j3b79WtVKQWXLaZoPLxsOKN9pKT+ii1IDBqf7gBPpbnb"
    "1eRX+rWr53r9K9vfNrbptgtX2CZRsFCzF5+s0UFtk5M1hiqy+xg14f1icQpGbK9u3kLKGm"
    "mcLeHf5FpfATZMWkQbvItLvt3SdtjTENx+3RC5p1ThQQ2eowtLQhSquVDQ5EO00c8jXAyV"
    "Sa/y3U2eF/gNnEeWi38dO0PhNtW/BiT7gClF5FnKguSLVJmuT6l4A7KfZAOYUi6vvNUimf"
    "02eEpuqkQCK/V4l84FfkM/kwI23gV56i16vwK1Diqp0wKK48XqMsR960w/g+ns4GG95H9R"
    "75D1O8UFJLCUw7PHQjKJOOUqdwtx+HnlSJQ0/kceiJoBDNX77Fz+IpOZVcLhcXW/dDPM5/"
    "b9DicaGbSs5mruCmjDW4qQU3BQPSlKxYACgIfEolMDlLHVi0rgn6CEW+ZiU+NT3M3kdEnu"
    "04AkP0gA5p4/Pj44EsmSAVdaie7hAh1SnHPDEAtNXRPtjG5t7FXO1Ih0qqTaXoxyzuyvWm"
    "UqK0gaFeteJUtsP1qeZU9uwCGeudPtxgB+mdHBDQvnwQCr0D4z2o4WKg3Ccw3k/R61UY72"
    "jE3+NQwybONOydw5vfvhPEvqQuxmlL2B8lBbhODZScoRaxRPfkULBgVD6vPm+nBfgdbM6O"
    "qyOpH1hftOwwrYPWVjfJnKdxWn0x+Bj4YfXEnS5xkHJkL8Zj8rm1UEnGyOz7kY4ZfMklua"
    "tkp+HKvw6ZvQ4UagcTQBE+37VV1j3SB+jggK6XP1kw1acKmb0Ovmi7BC2iFK/WIm2FNKZK"
    "m3QXrg4l8RgLGcywjL+SGkJk24/JVystBHubxQK7tci6vG0DdF3PRpzhsnNFUnZKVmueZ6"
    "pFxudswdN99jScz3jIFRwcWNq7Se4Bu55Q/CRd16UsulvWPR/Iss7GyMMmeWQIqIQmOTMd"
    "xpYOwvMQNfx1bbEOXmPqFtnD9N3n6dth87MZBZY1HC4wB3/32d8eRbZda1metQQv99nLcN"
    "4pnHfaB/XpPuedbtH+QiZNVDv5hUwGOyqV1+6IuDFTzimrgHUXPu0ifJhGvbPVKh7bsicC"
    "KXOmJopcxpyrwdJi2Q4o2AHy5QF90QMVsoJ8+Sl6vYp8WbFUBxTpGMkZQiguC8VlDx5Ltp"
    "LdsTzTcixqIYFEalfxmZQhlJZVqD3DoJtbTh3EEzPAWw3vIBOsjndiBngr4A371mHf+uGn"
    "0AHvW8/RYwK2p0igySkfEXW3+zDYGwcz1DYGmRt0iY2tDpcEp7ay7uNSAxmvro0vZBKcyc"
    "oPcuU7xuLzXIvHvzb0TCHzlN2fH/yNETjAQfWKg0LbPqsmSoboVBKd1qmgv3fl/N6B2rKY"
    "/pG492r6oK2FhgC3og3q405CgbzQG/ZWQkkstENGCwTLUd3igMEpo0XAyypnbm1APlvukh"
    "ry2WCdWVeg5EI+pH/5kCpZsLnlWN6ylttzpiBM60/aq+jnbCCoqFATGoNUrZx0Kobee3JP"
    "hbJ8w0R5JwMl7G19IqJ+izatjgQUVHLvqIx8CuV5mQrgTWuOEqVkssX2Hm+A9ekX6wPKo6"
    "e45gLlkW5er6I8yozDBb/LyZy8HdBm1WizBLcHZPtKG6SLllpg3jXHk8AYwFanx8eGXbKY"
    "IYbddPvmi85hvhlQuWZo3gwKhgrlMh52PItaDzVOJMuYgmxGTaaUHJk0J269I9/lDwFfKP"
    "gCKiw0OqTAZlHYLNoHwm2fzaJt8myf8GRJyP1rbLOJ092MBHRbvslRGev2GDbmfyBvbVUk"
    "3gKBFn7ADg3EV4T9y/MnSYt/Gi5mfsAzw3eoZRvR09m/WeMF+0/H8Ndi1VcTDxWSf+lH8U"
    "bBDwH5B+TfQEaugdJAQP49Ra9XIf8OuNTrWVy+z1jab02cdtX1oVJy0xtmoebXkxLd2Mij"
    "UXV2U3HjucgUaFlBlUqOk7J2N2sFAl715E4SkNYYx/K2MIj1ehCDOrBQB7ZfjtDp8wqoOW"
    "FkeGktpMuDtJVOu/9+GI9PTl6Mj0/OX56dvnhx9vI4WSAUb5WtFC6vf+aLhYxbi6uHNE+q"
    "GJ0LTCEfU56PybPSe6ZlIu7/Q+6pw0R6Z5JG0N/EuZrC4NIA1FfxczQFNz2c1i+XGofmNh"
    "EcQqhSCDSX1YKCoPukDUvqRchxrpxE3KgVkFAS8UO6rk/pOqjQ0DR3U48ZA1JsJ7Cwl71T"
    "KsyPzuFcqWRKclbQjYvdGAQScqiHmSqvIpBIFlZqy5qcGcTi5bH4LKWYayYOT2vwhonwzj"
    "Ax18d6qJXMkCHyiCfPmewOd9L0A4Q6moc6MPE+xYkXlIm6eb2KMhGK+DdfijjzVbmCiuby"
    "SDxqrgW6XQfiAYsviMHlJeW2Fv0oKMd/T5uCcgcreN43WqT9QcbDbOElmLbl48zWAoaaGk"
    "MNC3zU94FvjTrcdRwHKIPadFwgLqqkX7Pb+hrLvg73a+g47RoUdn7lux5xRyLqIX3/qJRz"
    "CFqa06BpxT2an5bYxQYyQluDLhE1KLJsL6ipH260tMnCWCLPWBB2jxS3ZNZ8xh50xmEX37"
    "vJjCHOinJagy1YLLH2qExql7bSZktLxzo7oBbkDtGLWlCYuducjC7YOmC6FE1D0Z3SCQht"
    "2/SG5ZaOT1VFwNHg3t8JoZHssXz0lxavKSlEJq1eM8woqYMNDPyjUkA4aq4huq3E+ewXqV"
    "DRK6e4Uibdc1yHifgbY7MOOpl9+z9vFpjb"
)

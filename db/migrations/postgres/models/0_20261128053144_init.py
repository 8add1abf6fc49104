from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "api_keys" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "name" VARCHAR(100) NOT NULL UNIQUE,
    "key_hash" VARCHAR(64) NOT NULL UNIQUE,
    "prefix" VARCHAR(12) NOT NULL,
    "scopes" JSONB NOT NULL,
    "revoked_at" TIMESTAMPTZ,
    "last_used_at" TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS "events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "actor" VARCHAR(255) NOT NULL,
    "action" VARCHAR(100) NOT NULL,
    "target_type" VARCHAR(50) NOT NULL,
    "target_id" VARCHAR(100) NOT NULL,
    "project_id" VARCHAR(100),
    "build_id" UUID,
    "request_id" VARCHAR(64),
    "reason" TEXT,
    "data" JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_events_created_d652bf" ON "events" ("created_at");
CREATE INDEX IF NOT EXISTS "idx_events_build_i_329236" ON "events" ("build_id");
COMMENT ON TABLE "events" IS 'Audit trail: one row per change, written in the transaction of the change.';
CREATE TABLE IF NOT EXISTS "projects" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" VARCHAR(100) NOT NULL PRIMARY KEY,
    "name" VARCHAR(200) NOT NULL,
    "description" TEXT,
    "auto_resume" BOOL NOT NULL,
    "max_auto_resumes" INT NOT NULL,
    "default_platform" VARCHAR(50)
);
CREATE TABLE IF NOT EXISTS "builds" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "build_number" INT NOT NULL,
    "platform" VARCHAR(100),
    "os_version" VARCHAR(100),
    "image_type" VARCHAR(100),
    "status" VARCHAR(20) NOT NULL,
    "current_state" INT NOT NULL,
    "last_successful_state" INT,
    "failed_state" INT,
    "metadata" JSONB NOT NULL,
    "resume_count" INT NOT NULL,
    "version" INT NOT NULL,
    "started_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ,
    "project_id" VARCHAR(100) NOT NULL REFERENCES "projects" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_builds_project_d4def1" UNIQUE ("project_id", "build_number")
);
CREATE INDEX IF NOT EXISTS "idx_builds_status_d91bf8" ON "builds" ("status");
CREATE TABLE IF NOT EXISTS "build_artifacts" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "state_code" INT NOT NULL,
    "artifact_name" VARCHAR(255) NOT NULL,
    "artifact_type" VARCHAR(100) NOT NULL,
    "artifact_path" TEXT NOT NULL,
    "storage_backend" VARCHAR(100),
    "storage_region" VARCHAR(100),
    "storage_bucket" VARCHAR(255),
    "storage_key" TEXT,
    "size_bytes" BIGINT,
    "checksum" VARCHAR(255),
    "checksum_algorithm" VARCHAR(50) NOT NULL,
    "is_resumable" BOOL NOT NULL,
    "is_final" BOOL NOT NULL,
    "expires_at" TIMESTAMPTZ,
    "metadata" JSONB NOT NULL,
    "version" INT NOT NULL,
    "deleted_at" TIMESTAMPTZ,
    "build_id" UUID NOT NULL REFERENCES "builds" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_build_artif_build_i_9da12d" ON "build_artifacts" ("build_id", "state_code");
CREATE TABLE IF NOT EXISTS "build_states" (
    "id" UUID NOT NULL PRIMARY KEY,
    "state_code" INT NOT NULL,
    "status" VARCHAR(20) NOT NULL,
    "message" TEXT,
    "metadata" JSONB NOT NULL,
    "error_message" TEXT,
    "error_code" VARCHAR(100),
    "retryable" BOOL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "build_id" UUID NOT NULL REFERENCES "builds" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_build_state_build_i_fb5f07" ON "build_states" ("build_id", "created_at");
COMMENT ON TABLE "build_states" IS 'Append-only state history.';
CREATE TABLE IF NOT EXISTS "resumable_states" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "state_code" INT NOT NULL,
    "is_resumable" BOOL NOT NULL,
    "resume_strategy" VARCHAR(30) NOT NULL,
    "required_artifacts" JSONB NOT NULL,
    "required_variables" JSONB NOT NULL,
    "resume_command" TEXT,
    "resume_timeout_seconds" INT NOT NULL,
    "description" TEXT,
    "notes" TEXT,
    "project_id" VARCHAR(100) NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_resumable_s_project_9e4324" UNIQUE ("project_id", "state_code")
);
CREATE TABLE IF NOT EXISTS "resume_requests" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "resume_from_state" INT NOT NULL,
    "resume_to_state" INT,
    "resume_reason" TEXT NOT NULL,
    "requested_by" VARCHAR(255) NOT NULL,
    "request_source" VARCHAR(20) NOT NULL,
    "status" VARCHAR(20) NOT NULL,
    "orchestration_config" JSONB NOT NULL,
    "orchestration_job_id" VARCHAR(255),
    "orchestration_job_url" TEXT,
    "orchestration_status" VARCHAR(50),
    "attempts" INT NOT NULL,
    "variable_changes" JSONB NOT NULL,
    "triggered_at" TIMESTAMPTZ,
    "completed_at" TIMESTAMPTZ,
    "error_message" TEXT,
    "metadata" JSONB NOT NULL,
    "version" INT NOT NULL,
    "build_id" UUID NOT NULL REFERENCES "builds" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_resume_requ_status_447b5c" ON "resume_requests" ("status");
CREATE INDEX IF NOT EXISTS "idx_resume_requ_build_i_6d7bb4" ON "resume_requests" ("build_id", "created_at");
CREATE TABLE IF NOT EXISTS "build_jobs" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "platform" VARCHAR(50) NOT NULL,
    "pipeline_name" VARCHAR(255),
    "job_name" VARCHAR(255),
    "job_url" TEXT,
    "job_id" VARCHAR(255),
    "build_number" VARCHAR(100),
    "triggered_by" VARCHAR(255),
    "trigger_source" VARCHAR(20) NOT NULL,
    "status" VARCHAR(20) NOT NULL,
    "started_at" TIMESTAMPTZ,
    "completed_at" TIMESTAMPTZ,
    "is_resume_job" BOOL NOT NULL,
    "resumed_from_state" INT,
    "version" INT NOT NULL,
    "build_id" UUID NOT NULL REFERENCES "builds" ("id") ON DELETE CASCADE,
    "parent_job_id" UUID REFERENCES "build_jobs" ("id") ON DELETE SET NULL,
    "resume_request_id" UUID REFERENCES "resume_requests" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_build_jobs_build_i_4d08fc" ON "build_jobs" ("build_id", "created_at");
CREATE TABLE IF NOT EXISTS "state_codes" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "code" INT NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "description" TEXT,
    "is_initial" BOOL NOT NULL,
    "is_final" BOOL NOT NULL,
    "is_error" BOOL NOT NULL,
    "project_id" VARCHAR(100) NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_state_codes_project_ca108f" UNIQUE ("project_id", "code")
);
CREATE TABLE IF NOT EXISTS "build_variables" (
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "id" UUID NOT NULL PRIMARY KEY,
    "variable_key" VARCHAR(255) NOT NULL,
    "variable_value" TEXT NOT NULL,
    "variable_type" VARCHAR(20) NOT NULL,
    "set_at_state" INT,
    "is_sensitive" BOOL NOT NULL,
    "is_required_for_resume" BOOL NOT NULL,
    "version" INT NOT NULL,
    "build_id" UUID NOT NULL REFERENCES "builds" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_build_varia_build_i_f63b44" UNIQUE ("build_id", "variable_key")
);
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
-- Hand-written: partial unique indexes that Tortoise models cannot declare.
CREATE UNIQUE INDEX IF NOT EXISTS "uq_build_artifacts_live_name" ON "build_artifacts" ("build_id", "artifact_name") WHERE "deleted_at" IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS "uq_resume_requests_open" ON "resume_requests" ("build_id") WHERE "status" IN ('pending', 'triggered', 'running');"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXVtv2zga/SuGn7pAp0idS7uDxQJJms5k2iaD1O0OpigEWqZtNrLkSlRab7f/fUndRZ"
    "GyKEuyxPBld0rpyMr5KF7Od+GP8dqZQ8t7dr5Bb+B2/Ovox9gGa0j+g7nydDQGm03aThsw"
    "mFnBrWCDjHu4DRrBzMMuMDFpXwDLg6RpDj3TRRuMHJu02r5l0UbHJDcie5k2+Tb66kMDO0"
    "uIV9AlFz59Js3InsPv0Iv/ubk3Fgha89zLojn97aDdwNtN0Pbhw/Wr18Gd9OdmhulY/tpO"
    "795s8cqxk9t9H82fUQy9toQ2dAGG88yfQd8y+ovjpvCNSQN2fZi86jxtmMMF8C1KxvhfC9"
    "82KQej4Jfo/5z8O3q1zG2GcXM7Nd5fTQ1jLMGd6diUd2RjStSPn+FzU0KC1jH9gcvfz++e"
    "HJ/9I6DA8fDSDS4GdI1/BkCAQQgNSE9ZNl1IOTEALrL9ilzBaA35jOeRDPPzCPos/o86Fo"
    "gbUhOk3S8mN6avBcLH5A+c39rWNrJ9iQGm1++u3k/P3/1Jf27teV+tgL/z6RW9Mglat0zr"
    "k9BeDvmywk8uecjoP9fT30f0n6O/b2+uWKsm903/HtN3Aj52DNv5ZoB5ppvGrTFr5M7U6v"
    "5mXtPqeaS2el+sHnOUMXv09qnVg/8v2PtyBVy+reP7GSsTttoZT9u06hp8NyxoL/GK/PP5"
    "0VGJWT+e3wUDKrmLsdVNdGkSXvuZY5fMlsYKeCsZhrMY5Vg+O6lA8tmJkGN6KU/xxoUL9F"
    "2G4BTRDL2HHpzy3XhSpRdPxJ14whLsmQ59RoHgP97f3vAJThHsXIBMPPrfyEIebovozPpr"
    "5iMLI9t7Rn/vEEswylBuGohpfvLu/C/WApdvby/Y8Z0+4IIxhwsfnPta03Qe2cA0HQ0jff"
    "kQhjsrFxdjFvCw4Xu17MxitaX7Zmm6v13cZ/ZetGEGzPtvwJ0bhSvOxBHdW7y0nqzZFmCD"
    "ZWAkyiZ9z3jP72K0CPfwRT0gvva0TBGgQyzpZtG97QsDn8JfpL/jYdJdSa+fw/FnrRdova"
    "Cni7Nh7hy1XvAYrV5FL8gMuwWrX9tYsCHIgRiDE9KGaOIlfYlfJs9PXpy8PD47eUluCV40"
    "aXlRYvXrmymzrI/nUENWkCkAFdzUTk5PK+xqyV3CbW1wTcB4wFQdxmOggoy3ooYlxG0A5k"
    "hiU/hdMH4UgEowXjYrXP01LVcOkknh7e3Nb/HtrJzACDmYXF9Cg24eoM1ZGYu7PAdaywQ9"
    "20d20Odj5ly4pC9Xg/MUqSmXonzmk87KWZxW6OYJUj3KW5lLY+LuwxCCquM6A1OB7M4Hdf"
    "Rf0l+3mKfQX6CleEmew9VakveM+WhF/s/J5Pj4xeTo+Ozl6cmLF6cvj5KlefFS2Rr94vo3"
    "ukzPWaC4bjdX0Lz3/LXMMJPFqNDnOxhgYsoMYC0dF+FVLcLz6O4WkWNvBSanZ22penn+T6"
    "tMqafiGfW0MKEijyxCCH0BBcVRxnEsCGyBpMpAGc5nBNsW6bHU2u0gf3F7+zY3yF9cs6P4"
    "h3cXV2RRExiA3ISwYGgh3C2QDSx5yhNYh3QnLYPlG37fINJZawiaeaT2t/VHvyzK1muIAf"
    "VkFG0sDmjIYvoR0kB/VpmQhgfoetzNsXD1mkF0pyY/b3fh2piUPIcWrOeYySP1ONbncSx0"
    "vcs5uLOYJt3c/TXrDq92IRCD4bdI7mvHhWhpv4HbgOJr8iLANnlr2yiQ4iJ+zjBJTVvTz9"
    "kF35JYi1yfIn99OIQE1J+/vzx/dTX+eZjglpB3TmRLYpAdYS0tRLN8Gm9c5wsMo2pC4mx/"
    "PSMXP+sMGB3RMohxYaCxDTqi5TFavUpES24cLthduAVhYTqqhbMV2VgALxxXSqzNYtRTx1"
    "vxeDqeIdxDi4nOozTVlahGa+qwlA0ZyqM01RX9+AD7HLdmmf8+RrTl2ymudjfQnlOiOuF5"
    "UoXmiZjlSYFk03ddaGMjCNGUmP4KuO7mv6OBTH5BHo7nmyb0vIVvSVMsxCvkrW+M7AVAFl"
    "mAy3LMwjS1RWq1x6R3HpPAp04j6n2bs1cV9nYWpsdstq9rV1SjdJJx1a2nqOSR2hXVHwGl"
    "qJstkI28VS0zM1Bt5z7bOXJecJ2OZeU2siglMjda2vyWeCMzfqM9/ZF/pk8aGOtVPZL5Dp"
    "fzSd6Rb+Du+nJa5pQs5ivxQqsj6Os3d9ACmL8A4KTSK0J5blj44sz2ZChwyf7hzFRlKNhe"
    "NsHR+3ifqiJL0e7EheSVvX0/urvgYXfhs1Rl7AG4iL7/nlx9jB6jEk2th5bQ4UoUXRINZb"
    "vqpsQDZ1clUzKxCbpkig4w6eknPdBQAx1g8hitXiXA5CBBEL2zb8s5ahu0gRayoXT9lAJQ"
    "Pe98KxmZZPEizXUWo2muTLPvcnIAxVn1GYgKJHedUU/pk1M4U4QKfHfQqctDLsVE74i5VI"
    "DuVgKpyAssl9Aly8cZpzyHmG4Wpx7drfTuiDbDc3zXlJofi8gOaxSsge2HWeNDjGPrY7Ag"
    "h+SBRwtqf/5j8POaznpTN4WYxWpL99nScXkWSLVojhOhSmmXBKuLjUgUGwmpmxsL11lLR6"
    "3ywTp2VcfztUynLjrQiF8oI1uCIItCpDmIWS0A96C2Z2NAM8zmowkk2eWCNcO6YEYnBTP4"
    "A0RT1FaLs+pnj90d+8cOizmGyVuMbj68fTsuGSkaoFk29migXHMHSQHfVcItzRXpncR8nH"
    "1IO7GEA+G9/VimMKxQFM2UBB3uimdKwxx3RjSNzzdUCvvFsa3tKMCNVoiWg94+GzNk7bhV"
    "R0ANMwJKHyTTWsrVAITw7jw8jWvga+h5ZCwtMiz2yGcgKvjQuvbI6wTk3iUgQ9d1XKPGp1"
    "AA6g9C/oMISeTPneJxPo9SgfcOYidciN1tjcL3OVw9z0jPyO7GL6ID48W9fZgh0jow/jFa"
    "vUpgvPYmaUW+D0JmX0tYXz3A4J0Lslx44WmZIgfpLVW1OH+O8IhSZP06cmw4cp1vow10R+"
    "YK2EsC+OYijKE9QvYIryC90/ZAuL1xFkFTeCdHu2v00bu1PilRr+x8NO4Iw1GYov60n57X"
    "vrzUyaloqqQ7dmqfYU7vVRZ15DN2pML7E4CKOmQrR1ibmBvcVErxPvV++81xO8kTwCWzTc"
    "iTBNEMTEG2m8/hjDiTS77KgRSkuZVOfbBKXj3TtDqg+oCb3N1kd7nSaSqsTxzPJ+65pYF8"
    "CvTcs5MKHffsRNhv6SWWZ+DxlhZiz06KUIHfrl06sv5N7duM+Sk3RUXfZkFFO4ziExdn5G"
    "g+mbqNYtUnmqHbryolpbOUnIvR4KrtsDJLWwsJVTQV7TNpRlTRnjLVrF7FUyZbaGevIju9"
    "sysT0Fctoq8spK+wScu+mcSSl4Hpda/8ujfo9WEmAcdBUxZhwyB19rFElA39ojL8ccKFhY"
    "4xHrS7QOzjtsaYxs9gD17QqFP7j4dVYWhpQz6W2LcxklwT5bgHOJkKk4wKGXH0DzCaqFx+"
    "Fz9N6erlaWrKnnQFLF1GUbqqMNWmaML0L452UuyBYgmF1/dbPAU+k9Gkz4DvVYKa1lfEM/"
    "kwd9paX3mMVq+ir+hk1Ha2QXGNsBoJNCy0w/19PJ0NdnsfVWagP4zhUqrmKwfaYXnMoKAZ"
    "yJyX1f4+9LjKPvRYvA895qSMffURrZpbcn6Y2LHLR/fDzUt/b9BuXq6ZSk5RqmCmHFqbqQ"
    "UzRWcWr8kGkLPxKQtIYZEqqGhdC/QRi3TN6vjY8CB5H554tuvQac4DOpSNz46GcgK1dkUd"
    "qqfbDlfqFHOeADTb8mzrw4T1YcKH7+77HCZ84OzQfJVBkeqdLUO4Q/TOH72qD6XUirdWvA"
    "eufWrF+zFavYriHY34exw/0MTpA70zeMObuXjv69TlOIvU5zsICa6TrcQAldhLdC8OBQtG"
    "6ZPlWJwS5HeQ8B/nMcofLVdEdujWARvUjTPncZwrV9x8DPxYOcc1VzBwOZIXo3vyBVrKOG"
    "NE+H64YwafHCk2lfxZuSK8ChJqBxNAkT7Jw6GFD1DBAF0vf/Jkyk8VIrwKtmi7WAzAGK43"
    "vNgK4Z4qC+luuzoUx2McyGCEBfekoiF42H5MvkrFQqQHcsuLdSxWH8zaH3WuKMrqI3gfi6"
    "X1SQqHXMHpo0V6N8npI3sbXdbpIuu6yHofAmn2KbKesv3FmTWRuK3Ph6waZZRmI3MijHKp"
    "yuLoIiY1usVsWp1Hq6OKBjR2DjS+REcVPUarV4kqksyg1bmzY/HCXdd80zXfDr4vakV0QZ"
    "6BbIQR4Hgud+WEZ4C64ptESjihboHsOownMM23HN+BQCvPdwLTfEvwrdPJdDrZ4afQAaeT"
    "fYxc+GOOzpNce1om84QKX64eQtNSTyK2JgEH93CrBR8t+AxkmBjo1l8LPo/R6lUEn9w4LL"
    "HwYnEKLr1aif9NeHsAli8VLlJEKsF519pFQmNAW50eHwM7zL+JOOym2zefggMxmRukMyhZ"
    "mE6f5KoUHrQ9hNFDjfqMOahWK+TUoaSA3MJx6x2AIX6ItoWELXS8WaNDio430/FmfVDa9o"
    "k3a1NnO4cuMldjjsoWXXlaprGB9J7eHO8oHCe5HzRniIzMt59y1vtVl1gwE85AJbsJ4RQ0"
    "zG1cB1tn+lFJMBzdriC7rRxzTn4RQ5uj/YnzKDKQ7tMoDjPtq3Fe8c//A6TV5cY="
)

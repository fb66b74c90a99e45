-- Files stored outside any task (a ClearML client writing to a path that names none): who
-- stored them, so only they (or an admin) write over or remove them, within the same quota.
CREATE TABLE user_files (
    location TEXT NOT NULL,
    path     TEXT NOT NULL,
    owner    TEXT NOT NULL,
    size     BIGINT NOT NULL,
    hash     TEXT NOT NULL,
    created  BIGINT NOT NULL,
    PRIMARY KEY (location, path)
);
CREATE INDEX user_files_owner ON user_files (owner);

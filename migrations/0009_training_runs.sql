-- Every training run of the recommender, the new model saved or not: when it ended, what it
-- saw, and its served NDCG@10 beside the current model's on the same validation slice.

CREATE TABLE training_runs (
    id               INTEGER PRIMARY KEY,
    finished_at      INTEGER NOT NULL,
    plays_seen       INTEGER NOT NULL,
    new_ndcg10       REAL    NOT NULL,
    -- NULL: there was no model to compare with.
    old_ndcg10       REAL,
    transformer_kept INTEGER NOT NULL CHECK (transformer_kept IN (0, 1)),
    saved            INTEGER NOT NULL CHECK (saved IN (0, 1)),
    train_ms         INTEGER NOT NULL,
    -- Who started it: the player (every retrain_every plays or `r`) or `skipless train`.
    started_by       TEXT    NOT NULL CHECK (started_by IN ('player', 'cli'))
);

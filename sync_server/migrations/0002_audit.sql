-- Audit trail (issue 5): the RFC 9162 Merkle tree over audit_entry, its signed checkpoints, pruning summaries.
-- The right edge of the tree (one hash per set bit of tree_size), so an append never recomputes the tree.
ALTER TABLE audit_head ADD COLUMN tree_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_head ADD COLUMN frontier TEXT NOT NULL DEFAULT '';
-- Every perfect subtree hash (level 0: leaf hashes), hex; proofs are assembled from these rows.
CREATE TABLE audit_node (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);
-- Signed checkpoints (C2SP tlog-checkpoint in a C2SP signed note), at every batch commit and on a timer.
CREATE TABLE audit_checkpoint (
    id {serial_pk},
    size BIGINT NOT NULL,
    root_hash TEXT NOT NULL,
    note TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX audit_checkpoint_size ON audit_checkpoint (size);
-- One signed summary per retention cut: what a verifier needs to continue across the pruned range.
CREATE TABLE audit_prune (
    id {serial_pk},
    cut BIGINT NOT NULL,
    summary TEXT NOT NULL,
    created_at TEXT NOT NULL
);

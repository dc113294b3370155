"""Artifact kind of the trainer's own files (see pipeline_lib.learn.trainer)."""
from pipeline_lib.artifacts import Schema, register

CHECKPOINT = register(Schema("learn/checkpoint", 1, (),
                             "per-epoch training checkpoint: weights, best weights and optimizer state in groups, "
                             "run_id and history in attrs; a restarted job resumes from it"))

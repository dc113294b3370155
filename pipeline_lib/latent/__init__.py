"""Chain-agnostic latent-space tools (paths, arrows, clusters, families) and the one FE verification
of decoded latent vectors that every analysis and design stage uses (``verify``)."""

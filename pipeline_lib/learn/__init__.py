"""What the three generative models share: training loop, KL schedules, losses, metrics,
checkpoints."""

"""The trainer service: PufferLib PPO in windows."""

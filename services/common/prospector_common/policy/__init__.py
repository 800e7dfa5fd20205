"""The policy format shared by the trainer and the evaluator (needs torch and PufferLib:
the `policy` extra of prospector-common).

    network     the torch modules (MLP, LSTM), make_policy, the action mask, policy_input
    checkpoint  ckpt_{window}.pt: save, load (checked), load_latest, load_policy
    actor       Actor: a policy as a rollout.BatchAgent (greedy or sampled)
"""

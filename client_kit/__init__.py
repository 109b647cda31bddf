"""What trainers install, and the SDK every Python part shares: the chain client and the task_hub
binding, the signed update envelope, the model format, IPFS stores, keys, and the client.py
templates with the runtime they run on."""

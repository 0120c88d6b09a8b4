{"type":"request","model":"lightning-v3.1"}
{"type":"release","lease":"x"}
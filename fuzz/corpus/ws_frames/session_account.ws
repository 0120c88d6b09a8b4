 {"type":"request","model":"lightning-v3.1"}
{"type":"request","model":"lightning-v3.1"}
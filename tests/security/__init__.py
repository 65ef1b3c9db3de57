"""Security: each point of issue 13 tried as an attacker or a curious insider would."""

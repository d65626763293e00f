"""Local multi-node networks: generate a network's CA, keys and chain spec, start its nodes."""

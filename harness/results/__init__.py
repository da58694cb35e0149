"""Results: the row schema, shards on disk, and merging them."""

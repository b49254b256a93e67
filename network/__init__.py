"""pqvote network layer."""

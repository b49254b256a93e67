"""pqvote: post-quantum proof validator cores, golden models and a Byzantine-quorum collector."""

"""Diversity: sentence embeddings, k-means clusters, balanced selection and semantic dedup."""

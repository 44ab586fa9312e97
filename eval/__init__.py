"""Retrieval evaluation: seed QA set, BEIR and SQuAD/KorQuAD, metrics, report."""

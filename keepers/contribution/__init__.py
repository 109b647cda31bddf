"""Paying for measured contribution: screen → score → record, each stage replaceable.

`screen` drops updates whose direction is no better than chance (and near-duplicates), `score`
values the rest on the organization's validation set, `ledger` smooths and turns value into the
round's on-chain credits, `pipeline` runs the three for a round and writes its score table.
"""

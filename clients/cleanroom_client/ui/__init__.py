"""The party's local web view (``cleanroom-client ui``): its agreements, overlap heat maps, co-sell targets, receipts."""

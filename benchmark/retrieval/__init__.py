"""The retrieval benchmark: datasets (bank, PneumoniaMNIST, IU X-ray), the methods compared (random, raw
pixels, TF-IDF, each embedder), exact-search metrics (R@k, P@10, mAP, nDCG@10) and the run that ties them."""

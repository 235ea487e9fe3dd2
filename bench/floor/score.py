# The HTTP floor: an entry script whose run() does no work. bench/scoring.py serves it through the same azmlinfsrv
# as scoring/score.py, so its latency, memory and cold start are what the inference server itself costs.
RESPONSE = {"predictions": [7], "probabilities": [[0.0] * 7 + [1.0] + [0.0] * 2]}  # one image's answer, prebuilt


def init():
    pass


def run(raw_data):
    return RESPONSE

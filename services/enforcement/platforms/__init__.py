"""One adapter per platform: a step -> the documented call(s), the answer -> an outcome."""

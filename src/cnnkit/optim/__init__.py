"""cnnkit.optim"""

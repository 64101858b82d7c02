"""cnnkit.image"""

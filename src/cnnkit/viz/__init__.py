"""cnnkit.viz"""

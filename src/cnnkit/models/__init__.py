"""cnnkit.models"""

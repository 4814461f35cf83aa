"""The loss network (VGG16, vgg.py), where its weights come from (weights.py), and the
perceptual loss built on it (loss.py) that Gatys, training and the benchmarks share."""

"""text2biggan: text -> language-model hidden states -> learned mapper -> BigGAN class vector -> image."""

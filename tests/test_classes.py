from mapper.classes import imagenet_classes, synset


def test_all_classes_resolve(wordnet_data):
    classes = imagenet_classes()
    assert [c.index for c in classes] == list(range(1000))
    assert len({c.wnid for c in classes}) == 1000
    assert all(c.lemmas and c.gloss for c in classes)


def test_tabby_cat(wordnet_data):
    tabby = imagenet_classes()[281]
    assert tabby.wnid == "n02123045"
    assert tabby.lemmas == ("tabby", "tabby cat")
    assert "mottled with black" in tabby.gloss
    assert tabby.hypernyms[0] == "entity" and tabby.hypernyms[-1] == "domestic cat"
    assert synset(281).name() == "tabby.n.01"

"""The page in a real headless browser: Debian's Chromium driven by playwright (no browser download)."""
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
CATS = ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
TIMEOUT_MS = 60_000
SHOWN_IMAGE_JS = "() => document.querySelector('#images img')?.src"


@pytest.fixture(scope="module")
def page(app_server):
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    url, _ = app_server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        yield page
        browser.close()


def test_type_generate_and_see_the_image_and_the_readout(page, tmp_path):
    from playwright.sync_api import expect

    expect(page).to_have_title("text2biggan")
    expect(page.get_by_text("How it works").first).to_be_visible()
    expect(page.get_by_text("A red sports car on the highway").first).to_be_visible()  # an example
    page.get_by_label("Text", exact=True).fill("My tabby cat is asleep on the sofa")
    page.get_by_role("button", name="Generate", exact=True).click()

    image = page.locator("#images img").first
    expect(image).to_be_visible()
    assert page.evaluate("img => img.complete && img.naturalWidth", image.element_handle()) == 128
    assert image.get_attribute("src").split("?")[0].endswith(".png")
    readout = page.locator("#readout")
    expect(readout).to_contain_text(re.compile("|".join(CATS)))
    expect(page.locator("#images")).to_contain_text(re.compile("|".join(CATS)))  # the image's caption: its class
    seed = page.get_by_label("Seed", exact=True)
    assert int(seed.input_value()) >= 0  # "random seed" drew one and shows it
    page.screenshot(path=tmp_path / "generated.png", full_page=True)
    assert (tmp_path / "generated.png").stat().st_size > 10_000


def test_the_page_says_when_imagenet_has_no_such_thing(page, tmp_path):
    from playwright.sync_api import expect

    page.get_by_label("Text", exact=True).fill("a woman")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator("#reading-note")).to_contain_text("ImageNet has no class for this")
    expect(page.locator("#words")).to_contain_text("woman")
    page.screenshot(path=tmp_path / "outside.png", full_page=True)
    page.get_by_label("Text", exact=True).fill("a tabby cat")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator("#readout")).to_contain_text(re.compile("|".join(CATS)))
    expect(page.locator("#reading-note")).not_to_contain_text("ImageNet has no class")


def test_empty_text_shows_an_error_and_the_page_keeps_working(page, tmp_path):
    from playwright.sync_api import expect

    page.get_by_label("Text", exact=True).fill("   ")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_text("please type some text").first).to_be_visible()
    page.screenshot(path=tmp_path / "error.png")  # the viewport, where the message shows

    page.get_by_label("Text", exact=True).fill("a yellow taxi")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator("#readout")).to_contain_text("cab")


def test_the_seed_is_drawn_in_the_browser_and_is_the_one_generate_gets(page):
    """The seed is drawn in the browser, never by the server: the seed box holds the one sent with /generate,
    kept or freshly drawn."""
    import json

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    seed, randomize = page.get_by_label("Seed", exact=True), page.get_by_label("random seed")
    page.get_by_label("Text", exact=True).fill("a tabby cat")

    def generate() -> int:  # the page calls /read (the text alone), then /generate (seven values)
        shown = page.evaluate(SHOWN_IMAGE_JS)
        with page.expect_request(lambda r: "/queue/join" in r.url and len(json.loads(r.post_data)["data"]) == 7) as join:
            page.get_by_role("button", name="Generate", exact=True).click()
        # until its images are on screen: a click while a generation runs is ignored (Gradio's trigger_mode "once")
        page.wait_for_function(f"shown => ({SHOWN_IMAGE_JS})() !== shown", arg=shown)
        return json.loads(join.value.post_data)["data"][2]

    randomize.uncheck()
    seed.fill("12345")
    assert generate() == 12345 and seed.input_value() == "12345"
    randomize.check()
    drawn = generate()
    assert drawn != 12345 and 0 <= drawn < 2**32 and seed.input_value() == str(drawn)
    assert not [url for url in requests if "/run/" in url]  # drawing the seed asked nothing of the server


# Asks the browser's own decoder (WebCodecs) how many frames the animation shown has.
FRAME_COUNT_JS = """async img => {
    const decoder = new ImageDecoder({data: (await fetch(img.src)).body, type: "image/webp"});
    await decoder.tracks.ready;
    return [decoder.tracks.selectedTrack.frameCount, decoder.tracks.selectedTrack.animated];
}"""


def test_the_morph_tab_plays_an_animation_of_the_frames_asked(page, tmp_path):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Morph").click()
    page.get_by_label("From", exact=True).fill("a tabby cat")
    page.get_by_label("To", exact=True).fill("a yellow taxi")
    frames = page.locator("#morph-frames input[type=number]")  # the slider's number box
    frames.fill("6")
    frames.press("Enter")
    page.get_by_role("button", name="Morph", exact=True).click()
    animation = page.locator("#morph img").first
    expect(animation).to_be_visible()
    assert animation.get_attribute("src").split("?")[0].endswith(".webp")
    assert page.evaluate("img => img.complete && img.naturalWidth", animation.element_handle()) == 128
    assert page.evaluate(FRAME_COUNT_JS, animation.element_handle()) == [6, True]
    assert int(page.get_by_label("Seed used", exact=True).input_value()) >= 0
    page.screenshot(path=tmp_path / "morph.png", full_page=True)

    page.get_by_label("To", exact=True).fill("   ")  # bad input: the message, and the tab keeps working
    page.get_by_role("button", name="Morph", exact=True).click()
    expect(page.get_by_text("please type some text").first).to_be_visible()
    page.get_by_role("tab", name="Text to image").click()
    expect(page.get_by_label("Text", exact=True)).to_be_visible()

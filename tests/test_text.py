"""Words, search terms and sentences of Chinese, English and mixed text (webapp.text)."""

from webapp import text


def test_english_search_terms_are_bm25s_own():
    import bm25s

    sample = "The runners were running in 1889 and the companies' boards met twice."
    theirs = bm25s.tokenize(sample, stopwords="en", stemmer=text._stemmer(), show_progress=False)
    inverse = {i: w for w, i in theirs.vocab.items()}
    assert text.search_terms(sample) == [inverse[i] for i in theirs.ids[0]]


def test_chinese_is_split_into_words_and_mixed_text_takes_both_paths():
    terms = text.search_terms("LoRA的秩是多少？低秩适配在2021年提出。")
    assert "lora" in terms
    assert "适配" in terms
    assert "2021" in terms
    assert "提出" in terms
    assert "的" not in terms  # a Chinese stop word
    assert "低秩适配在2021年提出" not in terms  # not the whole clause as one word
    assert text.words("渡轮 ferry 中午出发") == ["渡轮", "ferry", "中午", "出发"]


def test_sentences_end_at_chinese_punctuation_without_a_space():
    said = "他说：“好。”然后走了！真的吗？Yes. It is 3.5 m long. 好"
    assert text.sentences(said) == [
        "他说：“好。”",
        "然后走了！",
        "真的吗？",
        "Yes.",
        "It is 3.5 m long.",
        "好",
    ]


def test_the_language_of_a_question():
    assert text.is_chinese("低秩适配是哪一年提出的？")
    assert text.is_chinese("LoRA 是什么？")
    assert not text.is_chinese("What is LoRA?")
    assert not text.is_chinese("What is 秩 in LoRA?")


def test_a_loop_at_the_end_of_an_answer_is_cut_to_one_repeat():
    assert text.trim_loop("Answer: B,B,B,B,B,B,B,B,B,") == "Answer: B,"
    looping = "The tower is tall [1]. " * 5
    assert text.trim_loop(looping) == "The tower is tall [1]."
    assert text.trim_loop("LoRA 是低秩适配。" + "是低秩适配。" * 5) == "LoRA 是低秩适配。"
    for fine in ("1, 2, 3, 4, 5", "ha ha ha", "It was built in 1999 [1].", "Yes, yes, yes."):
        assert text.trim_loop(fine) == fine
    # A loop that varies a little: sentences said before (or inside one said before) go,
    # and so does a character cut in half at the token limit.
    said = "微软提出了低秩适配 [1]。"
    varied = said * 2 + "提出了低秩适配 [1]。" + "它只训练少量参数。" + "微软提出了低秩适\ufffd"
    assert text.trim_loop(varied) == "微软提出了低秩适配 [1]。它只训练少量参数。"
    assert text.trim_loop("It is tall [1]. It is tall. It is old.") == "It is tall [1]. It is old."
    assert text.trim_loop("Yes. Yes, the tower is tall.") == "Yes. Yes, the tower is tall."


def test_generation_stops_on_a_loop_of_its_own_tokens_only():
    from webapp.models.stops import is_loop

    assert is_loop([7, 8] * 8)
    assert is_loop([5] * 16)
    assert not is_loop([5] * 15)
    assert not is_loop(list(range(40)))
    assert not is_loop([1, 2, 3] * 3)  # three repeats of a short phrase: not yet a loop


def test_a_loop_whose_words_vary_is_cut_after_its_first_sentence():
    counted = "1. The first place is Paris.\n2. The second place is Paris.\n3. The third place is"
    counted += " Paris.\n4. The fourth place is Paris.\n5. The"
    assert text.trim_loop(counted) == "1. The first place is Paris."
    assert text.trim_loop("第一是巴黎。第二是巴黎。第三是巴黎。第四是巴黎。第五") == "第一是巴黎。"
    # Steps and lists that share a few words are not loops; nor are three near repeats.
    steps = "Step 1 is install. Step 2 is configure. Step 3 is run. Step 4 is test."
    three = "It was trained on A. It was trained on B. It was trained on C."
    for fine in (steps, three):
        assert text.trim_loop(fine) == fine

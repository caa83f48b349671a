#!/usr/bin/env python3
"""Writes corpus.json: the prompts the tokenizer fixtures are generated from.

Run once by hand when the corpus changes (python3 make_corpus.py > corpus.json); the JSON is
committed as data. Plain Python, no third-party modules. Order matters: fixture prompt pI is
entry I of the list (minus the prompts ComfyUI rejects, see gen.py)."""
import json
import sys

P = []


def add(*xs):
    P.extend(xs)


# ordinary English prompts, punctuation, digits, contractions
add("a photo of a cat", "A Photo Of A CAT", "", " ", "hello, world!", "Hello world",
    "A cat holding a sign that says hello world", "Hello, World! 123",
    "a red car, 4k, 8K, 1024x768, 3.14159, $100, 50%", "don't stop; it's what we'll do",
    "DON'T STOP; IT'S WHAT WE'LL DO, I'M SURE THEY'RE YOU'VE HE'D",
    "email@example.com #tag @user", "multiple   spaces\tand\ttabs\nand newlines",
    "  leading and trailing  ", "--no-- ~!@#^&*_+=|<>?/ `quotes` \"double\"",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Q", "A", "Z", "x", "I", "OK", "NASA", "iPhone", "McDonald's", "ÿ", "é", "É", "ß", "Ω",
    "cat", "cat.", "...", "!!!", "?!", "a", "the", "The", "THE", "123", "0", "-", "'", "'s", "''",
    "rock'n'roll", "it's", "it'S", "ITS'", "o'clock", "'tis", "cat's-eye", "a'b'c",
    "cinematic lighting, ultra-detailed, 8k uhd, dslr, soft lighting, high quality, film grain",
    "portrait of a woman, (freckles:0.7), golden hour, bokeh, 85mm f/1.4",
    "a Tokyo street at night, neon signs, rain, reflections",
    "cute anime girl with massive fluffy fennec ears and a big fluffy tail blonde messy long hair "
    "blue eyes wearing a maid outfit with a long black gold leaf pattern dress and a white apron "
    "mouth open holding a fancy black forest cake with candles on top in the kitchen of an old dark "
    "Victorian mansion lit by candlelight with a bright window to the foggy forest and very expensive "
    "stuff everywhere",
    "tab\there", "cr\rlf\r\nend", "trailing newline\n", "\n\nleading newlines",
    "semi;colon:colon", "under_score", "snake_case_words_here", "CamelCaseWordsHere", "kebab-case",
    "path/to/file.png", "http://example.com/a?b=c&d=e", "C++ and C# and F#", "1,000,000", "3.5mm",
    "2024-12-31", "12:30pm", "#ff00aa", "50/50", "1/2 cup", "x^2+y^2=z^2", "a<b>c", "<b>bold</b>",
    "[bracketed] {braced} <angled>", "~tilde~", "back\\slash", "double\\\\backslash",
    "quote \"inner\" quote", "'single quoted'", "`backticks`", "emoji-free plain text prompt.")

# many scripts
add("café crème brûlée naïve résumé", "Ünïcödé ÀÉÎÕÜ straße", "STRASSE Straße ẞ",
    "l'été à la plage, c'est génial!", "日本語のテキスト", "中文提示词 with english", "한국어 텍스트",
    "日本", "東京タワー", "ひらがな カタカナ ｶﾀｶﾅ", "漢字とかな混じり文", "一二三四五六七八九十",
    "𠀀𠀁 rare CJK ext B", "㐀㐁 CJK ext A", "豈 compatibility ideograph", "中文，标点。！", "「引用」『二重』",
    "안녕하세요 세계", "ㄱㄴㄷ jamo", "مرحبا بالعالم", "العربية: ١٢٣ ٤٥٦", "שלום עולם", "עִבְרִית",
    "สวัสดีชาวโลก", "ภาษาไทย", "नमस्ते दुनिया", "हिन्दी ०१२३", "Привет, мир!", "ПРИВЕТ МИР",
    "Ёлка ёжик", "Γειά σου Κόσμε", "ΟΔΥΣΣΕΥΣ", "ΣΊΣΥΦΟΣ", "σοφός ΣΟΦΟΣ", "Σ", "ΑΣ", "ΑΣ.", "ΑΣ'Α",
    "İstanbul", "İ", "ISTANBUL ıi İI", "DİYARBAKIR", "ß ẞ ss", "ǅ ǈ ǋ titlecase", "ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ",
    "Ǆ Ǉ Ǌ", "Ա Բ Գ armenian", "ქართული", "አማርኛ", "ᐃᓄᒃᑎᑐᑦ", "ᚠᚢᚦ runes", "Ⅻ roman numeral",
    "½ ¾ ⅓", "²³¹ superscripts", "₀₁₂ subscripts", "①②③", "⑴⑵", "㈱ ㍿ ㎏", "℃ ℉ №", "™ © ®",
    "µ micro", "Å angstrom", "Ω ohm", "K kelvin", "ﬁne ﬂower", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３",
    "fullwidth ＡＢＣ１２３ and ligature ﬁ", "！＃＄％", "（全角括弧）", "ｈｅｌｌｏ　ｗｏｒｌｄ",
    "Ⓐ Ⓑ ⓐ", "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄", "𝔉𝔯𝔞𝔨𝔱𝔲𝔯", "ℌ ℑ ℜ", "Ｑ", "ＱＵＩＣＫ", "ｱｲｳｴｵ", "ﾊﾟ ﾊﾞ",
    "Tiếng Việt có dấu", "Ελληνικά ά έ ή", "ΐ ΰ", "ŉ", "ǰ", "ﬓ", "Ὀδυσσεύς", "ᾼ ᾳ")

# combining marks
add("e\u0301", "a\u0308\u0301", "a\u0308", "o\u0302\u0323", "cafe\u0301", "n\u0303o",
    "A\u030a", "\u0301 leading combining", "x\u0300\u0301\u0302\u0303\u0304\u0305", "a\u20dd",
    "\u1100\u1161\u11a8", "\u0915\u093f", "\u0e01\u0e34\u0e48", "Z\u0351\u0352\u0353algo",
    "i\u0307", "I\u0307", "\u03a3\u0301", "\u0627\u064e", "e\u0301\u0301", "\u0041\u030a\u0301")

# emoji
add("emoji 🙂🐱🚀 test", "🙂", "🐱", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🇺🇸🇫🇷", "❤️", "❤",
    "☕ coffee", "✨sparkles✨", "🔥🔥🔥", "a🙂b", "👩🏻‍💻 coder", "🧑‍🚀", "1️⃣", "#️⃣", "©️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "😀😃😄😁😆😅😂🤣", "🐶 dog 🐕", "emoji:🙂")

# invisible and control characters
add("zero\u200bwidth", "join\u200dme", "non\u200cjoiner", "bom\ufefffirst", "\ufeffstart",
    "vt\x0bff\x0cend", "nel\x85line", "nb\u00a0sp", "ls\u2028ps\u2029end", "ideo\u3000space",
    "nul\x00byte", "\x00", "repl\ufffdchar", "\ufffd", "pua\ue000char", "\ue000", "unassigned\u0378x",
    "\u0378", "bell\x07", "esc\x1b[0m", "del\x7f", "c1\x80\x9f", "soft\u00adhyphen", "lrm\u200erlm\u200f",
    "word\u2060joiner", "thin\u2009space", "en\u2002em\u2003", "narrow\u202fnbsp", "ogham\u1680space",
    "mongolian\u180evs", "a \x0b b", "a\x1cb\x1dc\x1ed\x1fe", "tag\U000e0041", "\U0010fffd plane16 pua",
    "\U0001fffe", "bidi\u202aembed\u202c", "interlinear\ufff9x\ufffb", "hair\u200aspace",
    "  \u3000  mixed  \u00a0 ", "\u2028", "\x85", "\x0b", "\t\n\r", "variation\ufe0fsel")

# special-token strings
add("<|endoftext|>", "<|startoftext|>", "<|ENDOFTEXT|>", "<|EndOfText|>", "<|STARTOFTEXT|>",
    "x,<|endoftext|>", "x.<|endoftext|>y", "a <|endoftext|> b", "a<|endoftext|>b",
    "<|endoftext|><|endoftext|>", "(<|endoftext|>:1.2)", "<|startoftext|>hello", "hi,<|startoftext|>",
    "<|endoftext", "endoftext|>", "<|endof text|>", "</s>", "hello</s>world", "hello </s> world",
    "</s></s>", "<pad>", "a<pad>b", "<unk>", "<extra_id_5>", "x<extra_id_0>y", "<extra_id_99>",
    "<extra_id_100>", "<EXTRA_ID_5>", "</S>", "<s>", "x,</s>", "(</s>:1.5)", "<|endoftext|></s>",
    "Ａ<|endoftext|>", "日本<|endoftext|>日本", "ΣΑΣ<|endoftext|>", "\u200b<|endoftext|>")

# weights, escapes, nesting
add("a (red:1.3) car", "a ((very)) detailed (photo:0.8) of [something]",
    "(masterpiece, best quality:1.2), 1girl", "escaped \\(parentheses\\) stay literal",
    "nested (a (b:1.5) c) d", "weight without close (red:1.3", "unbalanced ) paren (",
    "(Q)", "(A)", "(é)", "(ÿ)", "(Cat)", "(cat)", "(CAT:1.5)", "(word:1.2)", "(word:0)", "(word:-1)",
    "(word:1e3)", "(word:nan)", "(word:inf)", "(word:1_0)", "(word:abc)", "(:1.5)", "(a:b:1.5)",
    "((a))", "(((a)))", "((a:1.5))", "(a:1.5) b", "\\(not weighted\\)", "\\(a:1.5\\)", "\\((a)\\)",
    "(\\(a\\):1.3)", "a\\b", "\\", "()", "(())", "(", ")", ")(", "(a) (b) (c)", "(a)(b)",
    "((a) b:1.4)", "(日本:1.2)", "(🙂:1.5)", "(Straße:0.9)", "(\u00a0:1.1)", "(x:1.2)y(z:0.5)",
    "(hello</s>world:1.3)", "(ΣΑΣ)", "(İ)", "(,)", "(,:2)", "(a , b:1.1)", "( spaced :1.2 )",
    "(a:１.５)", "(a:\u0661.\u0665)", "(a: 1.5 )", "(a:+2)", "(a:.5)", "(a:5.)", "(a:1e-3)")

# embedding forms (no embedding files exist: ComfyUI warns and drops the name)
add("embedding:foo", "embedding:foo bar", "a embedding:foo b", "a, embedding:foo, b",
    "embedding:foo,", "embedding:foo, bar", "embedding:foo<lora>", "embedding:foo[x] rest",
    "aembedding:foo", "(embedding:foo:1.2)", "embedding:foo\nbar", "embedding:\nfoo",
    "a\tembedding:foo", "EMBEDDING:foo", "embedding:foo.pt", "embedding:../foo",
    "x embedding:日本 y", "embedding:", "a embedding:", "embedding: ", "embedding:\n", "(embedding:)")

# long prompts
words = ["word%d" % i for i in range(120)]
add(", ".join(words[:40]), ", ".join(words), " ".join(["cat"] * 80), "a" * 500,
    " ".join(["supercalifragilisticexpialidocious"] * 12),
    "masterpiece, " * 40, "日本語 " * 100, "🙂" * 60, ("(red:1.2), " * 50).strip(),
    " ".join("token%d" % i for i in range(300)), "x " * 300,
    "long prompt " + ", ".join("item number %d with some detail" % i for i in range(60)),
    "ΣΑΣ " * 100, "a" * 74 + " b", "b " * 74 + "longwordthatsplits",
    " ".join(["x"] * 70) + " antidisestablishmentarianismically",
    " ".join(["x"] * 73) + " (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1.1)")
# mixed
add("Hello 世界! Привет мир! مرحبا", "ＡＢＣ日本ΣΑΣ🙂\u200b\x0bend", "a\u0308\u0301 (b\u0308:1.2) ﬁ①™…",
    "İ̇stanbul'da 日本語 <|endoftext|> </s> (x:1.1)", "\u3000日本\u3000語\u3000", "x\x85y\u2028z",
    "🇯🇵 日本 Japan ジャパン", "rock 'n' roll", "it's 'quoted' isn't it'", "Ⅷ Ⅸ Ⅹ ⅰ ⅱ", "ǲ ǳ",
    "…", "ellipsis… here", "smart “quotes” and ‘single’", "em—dash en–dash", "a·b", "°C 90°", "±5%",
    "€100 £50 ¥1000", "→ ← ↑ ↓", "♠ ♣ ♥ ♦", "★☆", "∞ ≠ ≤ ≥", "√2 π ∑", "µs ms", "ⅹⅺ")

seen = set()
out = []
for p in P:
    if p not in seen:
        seen.add(p)
        out.append(p)
json.dump(out, sys.stdout, ensure_ascii=True, indent=0)
sys.stdout.write("\n")

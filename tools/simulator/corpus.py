"""The words the simulated community says, in zh-CN and English.

Kept apart from the simulation so the demo's rule files can import the very same
placeholder keyword and domain lists the spammers use, and so the bank can grow
without touching the scheduling code.
"""

from __future__ import annotations

from random import Random

# Placeholder "banned words" for the demo rule sets: mild, obviously fake, and the only
# ones the simulator ever hides in texts, so a demo rule listing them catches everything.
BANNED_KEYWORDS_EN: tuple[str, ...] = ("scamcoin", "freecrypto", "casinobonus")
BANNED_KEYWORDS_ZH: tuple[str, ...] = ("刷单", "代开发票", "赌博")

# Traditional forms used as an evasion; a t2s conversion folds them back.
_TRADITIONAL: dict[str, str] = {"刷单": "刷單", "代开发票": "代開發票", "赌博": "賭博"}

# Links ordinary members share; demo rules may allow-list them.
ALLOWED_DOMAINS: tuple[str, ...] = (
    "github.com",
    "docs.python.org",
    "developer.mozilla.org",
    "docs.rs",
    "kubernetes.io",
    "fastapi.tiangolo.com",
    "stackoverflow.com",
    "pypi.org",
)

# Links only spammers post; demo rules may block-list them.
BLOCKED_DOMAINS: tuple[str, ...] = (
    "scamcoin-airdrop.xyz",
    "luckybet88.vip",
    "cheap-followers.top",
    "free-vpn-download.cc",
)

# Hosts of the group invite links spammers drop.
INVITE_HOSTS: tuple[str, ...] = ("t.me/+", "discord.gg/", "t.me/joinchat/")

# Who resolves complaints and applies mutes through the API in the simulated community.
OPERATOR_IDS: tuple[str, ...] = ("op-1", "op-2", "op-3", "op-4")

ALLOWED_LINKS: tuple[str, ...] = (
    "https://github.com/tiangolo/fastapi/issues/4012",
    "https://github.com/astral-sh/uv",
    "https://github.com/pydantic/pydantic/discussions/6388",
    "https://github.com/aio-libs/aiokafka",
    "https://github.com/rust-lang/rustlings",
    "https://github.com/kubernetes/ingress-nginx/issues/8112",
    "https://docs.python.org/3/library/asyncio-task.html",
    "https://docs.python.org/zh-cn/3/library/typing.html",
    "https://docs.python.org/3/howto/logging.html",
    "https://developer.mozilla.org/en-US/docs/Web/CSS/CSS_grid_layout",
    "https://developer.mozilla.org/zh-CN/docs/Web/JavaScript/Guide/Using_promises",
    "https://docs.rs/tokio/latest/tokio/",
    "https://docs.rs/serde/latest/serde/",
    "https://kubernetes.io/docs/concepts/workloads/pods/",
    "https://kubernetes.io/zh-cn/docs/tasks/debug/",
    "https://fastapi.tiangolo.com/tutorial/dependencies/",
    "https://stackoverflow.com/questions/231767/what-does-the-yield-keyword-do",
    "https://pypi.org/project/httpx/",
)

ZH_GREETINGS: tuple[str, ...] = (
    "大家好，新人报到 👋",
    "hello 各位，刚进群，请多关照",
    "新人求带，主要做后端开发",
    "大家好！从朋友那里听说这个群的",
    "报到～潜水很久终于说话了",
    "各位大佬好，我是做前端的，刚入行一年",
)
ZH_MORNING: tuple[str, ...] = ("早上好各位", "早～", "早啊，今天又是搬砖的一天", "早安打工人")
ZH_NIGHT: tuple[str, ...] = (
    "晚安各位",
    "睡了睡了，明天还要上班",
    "熬夜 debug 中……",
    "又是加班到这么晚",
)
ZH_QUESTIONS: tuple[str, ...] = (
    "有人用过 FastAPI 吗？部署到服务器上老是报 502",
    "请问这个报错怎么解决：ModuleNotFoundError: No module named 'yaml'",
    "Docker 容器里时区不对，有什么好办法吗？",
    "大家平时用什么做日志收集？ELK 还是 Loki？",
    "pip 装包特别慢，有没有推荐的镜像源？",
    "k8s 的 pod 一直 CrashLoopBackOff，怎么看具体原因？",
    "asyncio 里面怎么限制并发数量？",
    "求推荐一本讲数据库原理的书",
    "有没有人知道 Kafka 分区数设多少合适？",
    "vue3 和 react 现在选哪个比较好找工作？",
    "mongo 的事务是不是必须要副本集？",
    "请问 git rebase 之后怎么撤销？",
    "有人面过字节吗？二面一般问什么",
    "新手想学 Rust，从哪里开始比较好？",
    "公司要上 CI/CD，GitHub Actions 和 GitLab CI 哪个好用？",
    "周末有人去线下技术沙龙吗？",
)
ZH_ANSWERS: tuple[str, ...] = (
    "试试 pip install pyyaml",
    "看一下日志，应该是端口没映射出来",
    "我之前也遇到过，升级一下版本就好了",
    "用 asyncio.Semaphore 就行",
    "清华源或者阿里云的都可以",
    "kubectl describe pod 看一下 events",
    "这个要看你的数据量，先从 12 个分区开始吧",
    "同问，我也卡在这里了",
    "文档里写得挺清楚的，搜一下就有",
    "git reflog 找回来",
    "是的，单机的话也要配成单节点副本集",
    "直接看官方 book，然后刷 rustlings",
    "我们组用的 Loki，挺省资源的",
    "没错，就是这个原因",
    "感觉两个都行，看团队习惯",
    "可以私聊我，我发你一份配置",
)
ZH_THANKS: tuple[str, ...] = (
    "谢谢大佬！",
    "解决了，感谢 🙏",
    "原来如此，学到了",
    "好的我试试",
    "收到，多谢",
)
ZH_CHATTER: tuple[str, ...] = (
    "哈哈哈哈",
    "今天加班到十点，累死了",
    "周末有人去爬山吗",
    "这个需求又改了，心态崩了",
    "终于上线了 🎉",
    "刚看到新版本发布了，改动挺大的",
    "+1",
    "确实",
    "有道理",
    "摸鱼时间到",
    "中午吃什么好",
    "这波更新不错",
    "我觉得还是要多写测试",
    "昨天的分享会录屏有吗？",
    "666",
    "学到了",
    "今天面试了一家，感觉还行",
    "又到月底了，写周报写月报",
)
ZH_SHARE: tuple[str, ...] = (
    "分享一个不错的教程：{url}",
    "这个仓库挺好用的 {url}",
    "官方文档在这里 {url}",
    "刚看到的，推荐一下 {url}",
    "相关讨论可以看这个 {url}",
)
ZH_IMAGE: tuple[str, ...] = (
    "看这个截图",
    "报错截图如下",
    "",
    "今天的晚饭 😋",
    "给大家看看我的桌面",
    "",
)
ZH_MENTION: tuple[str, ...] = (
    "{at} 你之前说的那个问题解决了吗？",
    "{at} 帮忙看一下这个",
    "{at} 在吗？",
    "{at} 周末一起吗",
    "{at} 谢谢你上次的建议",
)
ZH_INNOCENT_KEYWORD: tuple[str, ...] = (
    "提醒一下，有人私聊拉人{kw}，大家别信",
    "{kw}的都是骗子，别上当",
    "群公告说了禁止讨论{kw}，注意一下",
)
ZH_FLOOD: tuple[str, ...] = (
    "顶",
    "顶顶顶",
    "哈哈哈哈哈哈",
    "？？？",
    "冲冲冲",
    "666666",
    "来了来了",
    "啊啊啊啊",
)

EN_GREETINGS: tuple[str, ...] = (
    "Hi everyone, just joined 👋",
    "hey all! found this server via the newsletter",
    "Hello! backend dev here, mostly Python",
    "new here, excited to learn from you all",
    "hi folks, long time lurker, first post",
)
EN_MORNING: tuple[str, ...] = ("morning all", "good morning!", "gm ☕", "morning, coffee first")
EN_NIGHT: tuple[str, ...] = (
    "night all",
    "ok I'm off to bed",
    "still debugging at this hour...",
    "gn 👋",
)
EN_QUESTIONS: tuple[str, ...] = (
    "anyone deployed FastAPI behind nginx? I keep getting 502s",
    "how do I limit concurrency with asyncio?",
    "what's the best way to structure a monorepo with uv?",
    "is there a good guide for Kafka partition counts?",
    "my pod is stuck in CrashLoopBackOff, where do I even start?",
    "does MongoDB need a replica set for transactions?",
    "any recommendations for a Rust book for beginners?",
    "how do you all handle secrets in CI?",
    "anyone going to the meetup on Thursday?",
    "what's everyone using for log aggregation these days?",
    "how do I undo a rebase? I think I broke my branch",
    "has anyone tried the new release yet? worth upgrading?",
    "is pydantic v2 much faster in practice?",
    "what terminal do you use on macOS?",
)
EN_ANSWERS: tuple[str, ...] = (
    "try asyncio.Semaphore, works great",
    "check the logs, probably the upstream port",
    "yes, even a single node needs to be a replica set",
    "git reflog is your friend",
    "I had the same issue, upgrading fixed it",
    "kubectl describe pod and look at the events",
    "start with the official book, then rustlings",
    "we use Loki, pretty cheap to run",
    "depends on your throughput, 12 is a sane start",
    "same question here",
    "the docs cover this pretty well actually",
    "yep, that's exactly it",
    "DM me and I can share our config",
)
EN_THANKS: tuple[str, ...] = (
    "thanks!",
    "that fixed it, thank you 🙏",
    "ahh makes sense",
    "will try, thx",
    "ty!",
)
EN_CHATTER: tuple[str, ...] = (
    "lol",
    "shipping on a friday, what could go wrong",
    "finally got it working 🎉",
    "+1",
    "agreed",
    "that's a good point",
    "coffee break ☕",
    "the new release notes are wild",
    "tests are green, merging",
    "anyone else's CI super slow today?",
    "weekend plans?",
    "TIL",
    "this is the way",
    "writing docs today, send help",
    "just had a great pairing session",
)
EN_SHARE: tuple[str, ...] = (
    "nice write-up on this: {url}",
    "this repo is really handy {url}",
    "docs are here {url}",
    "relevant discussion: {url}",
    "found this today, worth a read {url}",
)
EN_IMAGE: tuple[str, ...] = ("screenshot of the error", "", "my desk setup 😄", "look at this", "")
EN_MENTION: tuple[str, ...] = (
    "{at} did you ever fix that issue?",
    "{at} can you take a look?",
    "{at} you around?",
    "{at} thanks for the tip yesterday",
    "{at} this is what I meant",
)
EN_INNOCENT_KEYWORD: tuple[str, ...] = (
    "heads up, someone is DMing people about {kw}, it's a scam",
    "reminder: no {kw} links here please",
)
EN_FLOOD: tuple[str, ...] = ("lol", "LMAO", "first!!!", "???", "+1", "hahahaha", "🔥🔥🔥", "up")

# Spam: {contact} contact details, {invite} invite link, {domain} blocked domain, {kw} keyword.
ZH_SPAM_ADS: tuple[str, ...] = (
    "兼职日结，手机就能做，有意者{contact}",
    "低价出售各类会员账号，需要的{contact}",
    "专业代写论文/简历，{contact}",
    "高薪招聘打字员，在家也能赚，{contact}",
    "免费领取课程资料，{contact} 备注“资料”",
)
ZH_CONTACTS: tuple[str, ...] = (
    "加微信 {wx}",
    "vx: {wx}",
    "VX：{wx}",
    "QQ {qq}",
    "电话 {phone}",
    "加V {wx} 或 QQ {qq}",
)
ZH_SPAM_INVITE: tuple[str, ...] = (
    "内部福利群，进群送红包 https://{invite}",
    "币圈内幕消息群 https://{invite} 速来",
    "免费资源分享群：https://{invite}",
)
ZH_SPAM_DOMAIN: tuple[str, ...] = (
    "注册就送 888 元 https://{domain}/reg?code={code}",
    "稳赚不赔，点击了解 http://{domain}/vip",
    "免费梯子下载 https://{domain}/dl/{code}",
)
ZH_SPAM_KEYWORD: tuple[str, ...] = (
    "{kw}日赚 300，有意私聊",
    "专业{kw}，价格优惠，{contact}",
    "{kw}平台招代理，{contact}",
)
ZH_SPAM_MENTION: tuple[str, ...] = ("{ats} 福利来了，快来领取！", "{ats} 最后一天，名额有限")

EN_SPAM_ADS: tuple[str, ...] = (
    "Work from home, earn $500/day, contact {contact}",
    "Selling verified accounts cheap, {contact}",
    "Need followers? Fast delivery, {contact}",
    "Crypto signals with 95% win rate, {contact}",
)
EN_CONTACTS: tuple[str, ...] = (
    "WhatsApp {intl}",
    "telegram @{handle}",
    "call {intl}",
    "email {handle}@proton.example",
)
EN_SPAM_INVITE: tuple[str, ...] = (
    "Join our VIP trading group https://{invite}",
    "free nitro giveaway 👉 https://{invite}",
    "exclusive airdrop channel: https://{invite}",
)
EN_SPAM_DOMAIN: tuple[str, ...] = (
    "Claim your bonus now https://{domain}/claim?ref={code}",
    "100% legit, check https://{domain}",
    "download here http://{domain}/get/{code}",
)
EN_SPAM_KEYWORD: tuple[str, ...] = (
    "{kw} is going 100x, get in now! {contact}",
    "get {kw} today, DM for details",
    "{kw} giveaway for the first 50 people",
)
EN_SPAM_MENTION: tuple[str, ...] = ("{ats} free giveaway, claim now!", "{ats} don't miss this 🚀")

ZH_COMPLAINT_REASONS: dict[str, tuple[str, ...]] = {
    "spam": ("一直刷广告", "反复发同样的内容", "刷屏严重，影响大家交流"),
    "ads": ("发广告拉人加微信", "发可疑链接", "私聊推销"),
    "abuse": ("说话很冲，骂人", "人身攻击"),
    "harassment": ("一直私聊骚扰我", "反复@我，很烦"),
}
EN_COMPLAINT_REASONS: dict[str, tuple[str, ...]] = {
    "spam": ("keeps posting the same thing", "spamming the channel", "flooding the chat"),
    "ads": ("posting ads with contact details", "suspicious links", "selling stuff in DMs"),
    "abuse": ("insulting other members", "personal attacks"),
    "harassment": ("keeps DMing me after I said no", "keeps pinging me"),
}
ZH_NOTES: dict[str, tuple[str, ...]] = {
    "upheld": ("已核实，已处理", "确认违规，已警告并记录", "核实为广告，已移出群"),
    "rejected": ("查看聊天记录，未发现违规", "属于正常讨论，不予处理", "证据不足，已与双方沟通"),
}
EN_NOTES: dict[str, tuple[str, ...]] = {
    "upheld": ("verified, action taken", "confirmed spam, user removed", "warned and logged"),
    "rejected": (
        "no violation found in the log",
        "normal discussion, no action",
        "not enough evidence",
    ),
}
ZH_SANCTION_REASONS: dict[str, tuple[str, ...]] = {
    "mute": ("刷屏", "多次刷屏，禁言处理", "发言不当，禁言冷静一下"),
    "warn": ("注意言辞，不要人身攻击", "请勿发与群主题无关的内容"),
    "ban": ("发广告，多人投诉", "恶意拉人进其他群"),
    "revoke": ("申诉通过，误伤", "核实后解除禁言"),
}
EN_SANCTION_REASONS: dict[str, tuple[str, ...]] = {
    "mute": ("flooding the channel", "repeated flooding", "cool-down after heated argument"),
    "warn": ("please keep it civil", "off-topic posting after a reminder"),
    "ban": ("spam ads, multiple complaints", "posting scam links"),
    "revoke": ("appeal accepted", "muted by mistake"),
}

_ZH_NAME_HEAD = ("小", "阿", "老", "", "", "大")
_ZH_NAME_BODY = (
    "王",
    "李",
    "杰",
    "明",
    "芳",
    "婷",
    "强",
    "磊",
    "晨",
    "雨",
    "鹏",
    "飞",
    "琳",
    "涛",
    "楠",
)
_ZH_NICKS = (
    "代码搬运工",
    "摸鱼达人",
    "深夜debug",
    "咸鱼翻身",
    "风吹麦浪",
    "一只小猫咪",
    "Kevin",
    "momo",
    "不想上班",
    "路过的程序员",
    "快乐星球",
    "橘子汽水",
)
_EN_FIRST = (
    "alex",
    "sam",
    "mia",
    "jordan",
    "priya",
    "tom",
    "lena",
    "omar",
    "chris",
    "nina",
    "raj",
    "emma",
    "lucas",
    "zoe",
)
_EN_TAIL = ("", "_dev", ".codes", "42", "_k", "builds", "_io", "99")


def display_name(rng: Random, language: str) -> str:
    """A nickname of the kind members really pick; duplicates are fine and realistic."""
    if language == "zh-CN":
        if rng.random() < 0.35:
            return rng.choice(_ZH_NICKS)
        return rng.choice(_ZH_NAME_HEAD) + rng.choice(_ZH_NAME_BODY) + rng.choice(_ZH_NAME_BODY)
    return rng.choice(_EN_FIRST) + rng.choice(_EN_TAIL)


def evade(rng: Random, word: str) -> str:
    """Disguise a banned word the ways real spammers do, so filters must normalise."""
    style = rng.randrange(5)
    if style == 0:
        return word
    if style == 1:  # zero-width joiners between letters
        return "\u200d".join(word)
    if style == 2:  # spaced out
        return " ".join(word)
    if style == 3 and word in _TRADITIONAL:
        return _TRADITIONAL[word]
    if word.isascii():  # full-width letters
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)
    return "\u200b".join(word)  # zero-width spaces for Chinese without a traditional form


def wechat_id(rng: Random) -> str:
    letters = "abcdefghjkmnpqrstuvwxyz"
    return "".join(rng.choice(letters) for _ in range(rng.randint(3, 6))) + str(
        rng.randint(10, 9999)
    )


def cn_phone(rng: Random) -> str:
    return rng.choice(("138", "139", "150", "186", "177")) + f"{rng.randrange(10**8):08d}"


def qq_number(rng: Random) -> str:
    return str(rng.randint(10_000_000, 3_999_999_999))


def invite_link(rng: Random) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    code = "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 16)))
    return rng.choice(INVITE_HOSTS) + code


def zh_contact(rng: Random) -> str:
    return rng.choice(ZH_CONTACTS).format(wx=wechat_id(rng), qq=qq_number(rng), phone=cn_phone(rng))


def en_contact(rng: Random) -> str:
    intl = f"+1 {rng.randint(201, 989)} 555 {rng.randint(100, 9999):04d}"
    return rng.choice(EN_CONTACTS).format(intl=intl, handle=wechat_id(rng) + "_support")

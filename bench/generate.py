"""Generate a seeded, realistic book for the benchmark, as CSV and NDJSON.

    python bench/generate.py --scale 1.0 --seed 42 --out bench/data/s1

At scale 1.0: 100,000 clients, 1,000,000 interactions, 200,000 deals and 100,000
follow-ups, dated over the three years before a fixed day (2026-11-22), so the same
seed gives the same files byte for byte on any machine and any day. About one client
in eight has a Chinese, Japanese or Korean name (and CJK notes and summaries).

The files use the column layout `crm import` accepts: clients carry an `external_id`
(C0000001, ...), and interactions, deals and follow-ups name their client in a `client`
column holding that external id. Tags are a JSON list in CSV, a list in NDJSON.
Rows are written as they are made: memory stays small at any scale.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REFERENCE_DAY = date(2026, 11, 22)
REFERENCE = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SPAN_DAYS = 3 * 365

BASE = {"clients": 100_000, "interactions": 1_000_000, "deals": 200_000, "followups": 100_000}

CLIENT_COLUMNS = ("external_id", "name", "company", "email", "phone", "industry", "size",
                  "owner", "source", "stage", "tags", "notes", "created_at")
INTERACTION_COLUMNS = ("client", "at", "channel", "direction", "kind", "summary", "score")
DEAL_COLUMNS = ("client", "at", "title", "amount", "currency", "status")
FOLLOWUP_COLUMNS = ("client", "due", "note", "done_at")

LATIN_FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William "
               "Barbara Richard Susan Joseph Jessica Thomas Sarah Lucas Emma Hugo Léa Louis Chloé "
               "Mateo Sofía Lukas Hannah Matteo Giulia Liam Olivia Noah Amelia Oliver Isla "
               "Ana João Pedro Beatriz Ahmed Fatima Omar Aisha Ivan Olga Pierre Camille").split()
LATIN_LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez "
              "Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee "
              "Thompson White Harris Clark Lewis Walker Hall Young King Wright Müller Schmidt "
              "Schneider Fischer Weber Dubois Moreau Laurent Rossi Russo Ferrari Silva Santos "
              "Costa Novak Kowalski Nowak Ivanov O'Connor Murphy Kelly").split()
ZH_FAMILY = "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 林 罗 高".split()
ZH_GIVEN = "伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英".split()
JA_FAMILY = "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田".split()
JA_GIVEN = "花子 太郎 翔 陽菜 結衣 蓮 大翔 美咲 健太 さくら 直樹 由美".split()
KO_FAMILY = "김 이 박 최 정 강 조 윤 장 임".split()
KO_GIVEN = "민준 서연 지훈 수빈 예준 하은 도윤 지우 현우 서현".split()

COMPANY_WORDS = ("North Harbor Summit Blue Cedar Atlas Pioneer Silver Bright Granite River "
                 "Maple Orion Nova Vertex Apex Coastal Urban Prime Evergreen Falcon Lighthouse "
                 "Meridian Golden Redwood Sterling").split()
COMPANY_KINDS = ("Logistics Bakery Software Consulting Architecture Dental Clinic Studio "
                 "Partners Foods Robotics Legal Media Travel Energy Analytics Design Labs "
                 "Construction Imports").split()
COMPANY_SUFFIX = ("Ltd", "Inc.", "GmbH", "LLC", "SARL", "Co.", "S.p.A.", "BV", "")
ZH_COMPANY = ("北京星辰科技有限公司 上海东方贸易有限公司 深圳华南电子有限公司 杭州西湖软件有限公司 "
              "广州南方物流有限公司 成都天府咨询有限公司").split()
JA_COMPANY = "株式会社さくら商事 東京デザイン株式会社 大阪物流株式会社 株式会社みらい技研".split()
KO_COMPANY = "한빛소프트 서울물산 부산해운 미래컨설팅".split()

INDUSTRIES = ("software", "logistics", "food", "architecture", "health", "legal", "media",
              "retail", "manufacturing", "finance", "education", "travel")
SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")
OWNERS = ("alex", "sam", "jordan", "priya", "wei")
SOURCES = ("referral", "website", "conference", "cold-call", "partner", "linkedin")
STAGES = (("lead", 30), ("qualified", 20), ("proposal", 12), ("negotiation", 8), ("won", 22),
          ("lost", 8))
TAGS = (("vip", 5), ("smb", 30), ("enterprise", 10), ("retainer", 12), ("europe", 20),
        ("americas", 25), ("asia", 15), ("newsletter", 35), ("partner", 6), ("at-risk", 4))
CHANNELS = (("email", 45), ("call", 25), ("meeting", 15), ("chat", 10), ("visit", 3),
            ("other", 2))
KINDS = (("note", 85), ("feedback", 8), ("complaint", 4), ("nps", 3))
LATIN_SUMMARIES = (
    "Sent the quarterly report", "Discussed renewal terms", "Asked about the invoice",
    "Follow-up on the proposal", "Onboarding call for the new team", "Requested a quote",
    "Complained about the late delivery", "Shared feedback on the dashboard",
    "Booked the workshop", "Confirmed the order", "Chased the unpaid invoice",
    "Introduced the new account manager", "Reviewed the contract draft",
    "Thanked us for the quick fix", "Asked for a discount on volume",
    "Demo of the reporting module", "Checked in after the holidays",
)
CJK_SUMMARIES = (
    "确认合同细节", "讨论续约条款", "询问发票问题", "发送季度报告", "投诉交货延迟",
    "見積もりの依頼", "契約書の確認", "請求書について問い合わせ", "納期の遅れについて苦情",
    "계약 조건 논의", "견적 요청", "배송 지연 불만",
)
DEAL_TITLES = ("Annual licence", "Consulting package", "Support renewal", "Workshop",
               "Implementation", "Upgrade", "Training days", "Retainer", "Pilot project")
FOLLOWUP_NOTES = ("Call back about the renewal", "Send the revised quote",
                  "Book the quarterly review", "Check the invoice was paid",
                  "Ask for a testimonial", "Confirm the workshop date", "确认合同细节",
                  "見積もりを送る", "계약서 보내기")


def _weighted(pairs):
    values = [v for v, _ in pairs]
    weights = [w for _, w in pairs]
    return values, weights


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Writer:
    """One kind of record written to NAME.csv and NAME.ndjson side by side."""

    def __init__(self, out: Path, name: str, columns: tuple[str, ...]):
        self.columns = columns
        self.csv_file = open(out / f"{name}.csv", "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.nd_file = open(out / f"{name}.ndjson", "w", encoding="utf-8")  # noqa: SIM115
        self.csv = csv.writer(self.csv_file, lineterminator="\n")
        self.csv.writerow(columns)
        self.count = 0

    def write(self, row: dict) -> None:
        self.csv.writerow(["" if row.get(c) is None else
                           (json.dumps(row[c], ensure_ascii=False) if isinstance(row[c], list)
                            else row[c]) for c in self.columns])
        self.nd_file.write(json.dumps({c: row.get(c) for c in self.columns},
                                      ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        self.csv_file.close()
        self.nd_file.close()


def _name_and_company(rng: random.Random, i: int):
    """(name, company, email local part hint, culture)."""
    roll = rng.random()
    if roll < 0.06:
        name = rng.choice(ZH_FAMILY) + rng.choice(ZH_GIVEN)
        return name, rng.choice(ZH_COMPANY), f"zh{i}", "cjk"
    if roll < 0.10:
        name = rng.choice(JA_FAMILY) + " " + rng.choice(JA_GIVEN)
        return name, rng.choice(JA_COMPANY), f"ja{i}", "cjk"
    if roll < 0.125:
        name = rng.choice(KO_FAMILY) + rng.choice(KO_GIVEN)
        return name, rng.choice(KO_COMPANY), f"ko{i}", "cjk"
    first, last = rng.choice(LATIN_FIRST), rng.choice(LATIN_LAST)
    suffix = rng.choice(COMPANY_SUFFIX)
    company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} {suffix}".strip()
    local = unicodedata.normalize("NFKD", f"{first}.{last}".lower().replace("'", ""))
    local = local.encode("ascii", "ignore").decode()
    return f"{first} {last}", company, f"{local}.{i}", "latin"


def generate(out: Path, scale: float = 1.0, seed: int = 42) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    counts = {k: max(1, round(v * scale)) for k, v in BASE.items()}
    n_clients = counts["clients"]
    stages, stage_w = _weighted(STAGES)
    channels, channel_w = _weighted(CHANNELS)
    kinds, kind_w = _weighted(KINDS)

    # Clients, and what the child rows need to know about each: created day and culture.
    created: list[int] = []  # minutes before REFERENCE
    cjk: list[bool] = []
    activity: list[float] = []  # relative weight of interactions / deals
    clients = Writer(out, "clients", CLIENT_COLUMNS)
    for i in range(1, n_clients + 1):
        name, company, local, culture = _name_and_company(rng, i)
        age_min = rng.randint(60, SPAN_DAYS * 24 * 60)
        created.append(age_min)
        cjk.append(culture == "cjk")
        activity.append(rng.paretovariate(1.6))
        tags = sorted({t for t, w in TAGS if rng.random() * 100 < w})
        domain = "example.cn" if local.startswith("zh") else (
            "example.jp" if local.startswith("ja") else
            "example.kr" if local.startswith("ko") else "example.com")
        clients.write({
            "external_id": f"C{i:07d}",
            "name": name,
            "company": company,
            "email": f"{local}@{domain}",
            "phone": f"+{rng.choice((1, 33, 44, 49, 81, 82, 86))} {rng.randint(100, 999)} "
                     f"{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            "industry": rng.choice(INDUSTRIES),
            "size": rng.choice(SIZES),
            "owner": rng.choice(OWNERS),
            "source": rng.choice(SOURCES),
            "stage": rng.choices(stages, stage_w)[0],
            "tags": tags,
            "notes": (rng.choice(CJK_SUMMARIES) if culture == "cjk" else
                      "Prefers email; decision in Q" + str(rng.randint(1, 4)))
            if rng.random() < 0.3 else None,
            "created_at": _iso(REFERENCE - timedelta(minutes=age_min)),
        })
    clients.close()

    def pick_clients(k: int) -> list[int]:
        return rng.choices(range(n_clients), weights=activity, k=k)

    def moment_after(idx: int) -> datetime:
        return REFERENCE - timedelta(minutes=rng.randint(0, created[idx]))

    interactions = Writer(out, "interactions", INTERACTION_COLUMNS)
    batch = 100_000
    left = counts["interactions"]
    while left:
        for idx in pick_clients(min(batch, left)):
            kind = rng.choices(kinds, kind_w)[0]
            summary = (rng.choice(CJK_SUMMARIES) if cjk[idx] and rng.random() < 0.7
                       else rng.choice(LATIN_SUMMARIES))
            interactions.write({
                "client": f"C{idx + 1:07d}",
                "at": _iso(moment_after(idx)),
                "channel": rng.choices(channels, channel_w)[0],
                "direction": "in" if rng.random() < 0.4 else "out",
                "kind": kind,
                "summary": summary,
                "score": rng.randint(0, 10) if kind in ("nps", "feedback") else None,
            })
        left -= min(batch, left)
    interactions.close()

    deals = Writer(out, "deals", DEAL_COLUMNS)
    left = counts["deals"]
    while left:
        for idx in pick_clients(min(batch, left)):
            roll = rng.random()
            status = "won" if roll < 0.7 else ("open" if roll < 0.85 else "lost")
            cents = int(rng.lognormvariate(8, 1.1) * 100)
            deals.write({
                "client": f"C{idx + 1:07d}",
                "at": _iso(moment_after(idx)),
                "title": rng.choice(DEAL_TITLES),
                "amount": f"{cents // 100}.{cents % 100:02d}",
                "currency": "USD",
                "status": status,
            })
        left -= min(batch, left)
    deals.close()

    followups = Writer(out, "followups", FOLLOWUP_COLUMNS)
    for _ in range(counts["followups"]):
        idx = rng.randrange(n_clients)
        due = REFERENCE_DAY + timedelta(days=rng.randint(-60, 60))
        done = None
        if due <= REFERENCE_DAY and rng.random() < 0.7:
            done_day = due + timedelta(days=rng.randint(-3, 5))
            done_day = min(done_day, REFERENCE_DAY)
            done = f"{done_day.isoformat()}T{rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}:00Z"
        followups.write({"client": f"C{idx + 1:07d}", "due": due.isoformat(),
                         "note": rng.choice(FOLLOWUP_NOTES), "done_at": done})
    followups.close()
    return {"clients": clients.count, "interactions": interactions.count, "deals": deals.count,
            "followups": followups.count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="1.0 = 100k clients, 1M interactions, 200k deals, 100k follow-ups")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True, help="directory for the files")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    counts = generate(args.out, args.scale, args.seed)
    sys.stderr.write(", ".join(f"{n:,} {k}" for k, n in counts.items())
                     + f" written to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

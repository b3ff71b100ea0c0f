"""A realistic, deterministic demo book of business for `crm demo`.

Forty-odd clients (Latin, Chinese, Japanese and Korean names) with 18+ months of
history: contacts, interactions on every channel in both directions, complaints
(most resolved), scored feedback, won / open / lost deals, stage moves, tags,
per-client cadences, follow-ups (done, overdue, upcoming, recurring) and a few
clients gone quiet past their cadence. Everything goes through the store's
methods, so the audit trail and the search index are filled as by hand; the
whole build is one change (`crm undo` removes it). Dates are relative to
dates.now(), so CRM_NOW pins the demo.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal

from crmcli import dates

# name, company, domain, industry, size, culture, region
CLIENTS = [
    ("王伟", "北京星辰科技有限公司", "xingchen-tech.cn", "software", "51-200", "zh", "asia"),
    ("Amelia Hart", "Hartwell Bakery Co.", "hartwellbakery.com", "food", "11-50", "en",
     "americas"),
    ("Lucas Moreau", "Moreau Architecture", "moreau-archi.fr", "architecture", "11-50", "en",
     "europe"),
    ("佐藤 花子", "株式会社さくらデザイン", "sakura-design.jp", "design", "11-50", "ja", "asia"),
    ("김민준", "한빛소프트", "hanbitsoft.kr", "software", "201-1000", "ko", "asia"),
    ("Sofia Rossi", "Trattoria Rossi", "trattoriarossi.it", "hospitality", "1-10", "en",
     "europe"),
    ("James O'Connor", "Harbor Logistics", "harborlogistics.ie", "logistics", "201-1000", "en",
     "europe"),
    ("李娜", "上海明珠贸易", "mingzhu-trade.cn", "trade", "51-200", "zh", "asia"),
    ("Priya Natarajan", "Lotus Health Clinics", "lotushealth.in", "healthcare", "51-200", "en",
     "asia"),
    ("田中 太郎", "田中精工株式会社", "tanaka-seiko.jp", "manufacturing", "201-1000", "ja",
     "asia"),
    ("Emma Schneider", "Schneider Maschinenbau GmbH", "schneider-mb.de", "manufacturing",
     "201-1000", "en", "europe"),
    ("이서연", "서울뷰티랩", "seoulbeautylab.kr", "cosmetics", "11-50", "ko", "asia"),
    ("Noah Williams", "Brightpath Tutoring", "brightpath.edu", "education", "11-50", "en",
     "americas"),
    ("陈静", "深圳华创电子", "huachuang-elec.cn", "electronics", "201-1000", "zh", "asia"),
    ("Olivia Brown", "Olive & Oak Interiors", "oliveandoak.co.uk", "design", "1-10", "en",
     "europe"),
    ("Mateo García", "García Solar", "garciasolar.es", "energy", "51-200", "en", "europe"),
    ("鈴木 一郎", "鈴木ロジスティクス", "suzuki-logi.jp", "logistics", "51-200", "ja", "asia"),
    ("Chloé Dubois", "Atelier Dubois", "atelier-dubois.fr", "fashion", "1-10", "en", "europe"),
    ("박지훈", "부산해운", "busanshipping.kr", "shipping", "201-1000", "ko", "asia"),
    ("Liam Johansson", "Nordic Ferries AB", "nordicferries.se", "transport", "201-1000", "en",
     "europe"),
    ("张磊", "杭州云杉茶业", "yunshan-tea.cn", "food", "11-50", "zh", "asia"),
    ("Aisha Bello", "Bello Foods", "bellofoods.ng", "food", "51-200", "en", "africa"),
    ("Ethan Clarke", "Clarke & Sons Legal", "clarkesons.com", "legal", "11-50", "en",
     "americas"),
    ("山本 美咲", "山本カフェ", "yamamoto-cafe.jp", "hospitality", "1-10", "ja", "asia"),
    ("Isabella Costa", "Costa Travel", "costatravel.pt", "travel", "11-50", "en", "europe"),
    ("Henrik Larsen", "Larsen Bikes", "larsenbikes.dk", "retail", "11-50", "en", "europe"),
    ("최유나", "제주감귤농장", "jejucitrus.kr", "agriculture", "1-10", "ko", "asia"),
    ("Grace Okafor", "Okafor Analytics", "okafor-analytics.com", "software", "11-50", "en",
     "africa"),
    ("刘洋", "成都熊猫文旅", "panda-travel.cn", "travel", "51-200", "zh", "asia"),
    ("Benjamin Cohen", "Cohen Dental", "cohendental.com", "healthcare", "11-50", "en",
     "americas"),
    ("Zoe Papadopoulos", "Aegean Olive Oil", "aegeanolive.gr", "food", "11-50", "en", "europe"),
    ("Samuel Adeyemi", "Lagos Fintech Labs", "lagosfintech.ng", "finance", "51-200", "en",
     "africa"),
    ("黃志明", "台北光電股份有限公司", "taipei-opto.tw", "electronics", "201-1000", "zh", "asia"),
    ("Hannah Müller", "Müller Print", "muellerprint.de", "printing", "11-50", "en", "europe"),
    ("Jack Thompson", "Thompson Vineyards", "thompsonvineyards.com.au", "agriculture", "11-50",
     "en", "oceania"),
    ("Fatima Al-Sayed", "Sahara Imports", "saharaimports.ae", "trade", "51-200", "en",
     "middle-east"),
    ("Oliver Novak", "Novak Games", "novakgames.cz", "software", "11-50", "en", "europe"),
    ("Laura Fernández", "Fernández Consulting", "fernandez-consulting.mx", "consulting", "1-10",
     "en", "americas"),
    ("Ryan Patel", "Patel Pharmacy", "patelpharmacy.ca", "retail", "11-50", "en", "americas"),
    ("高橋 健", "高橋フーズ", "takahashi-foods.jp", "food", "51-200", "ja", "asia"),
]
# One profile per client above, in order: how its story goes.
PROFILES = [
    "loyal", "loyal", "loyal", "loyal", "loyal", "growing", "stale", "loyal", "pipeline",
    "loyal", "stale", "growing", "pipeline", "loyal", "lost", "pipeline", "stale", "growing",
    "loyal", "stale", "pipeline", "loyal", "lost", "stale", "pipeline", "growing", "lead",
    "loyal", "pipeline", "stale", "lead", "pipeline", "loyal", "growing", "loyal", "lost",
    "pipeline", "lead", "stale", "growing",
]
VIPS = {"王伟", "Amelia Hart", "김민준", "田中 太郎", "James O'Connor"}
FEATURED = "王伟"

CONTACT_NAMES = {
    "en": ["Maya Lopez", "Tom Becker", "Nina Petrova", "Chris Evans", "Elena Ivanova",
           "Marco Bianchi", "Julia Novak", "Peter Smith", "Sara Lindqvist", "David Levi",
           "Anna Kowalski", "Omar Haddad", "Lena Fischer", "Kwame Mensah"],
    "zh": ["赵敏", "孙强", "周婷", "吴昊", "郑丽", "何军", "许晨"],
    "ja": ["伊藤 由美", "渡辺 翔", "中村 さくら", "小林 大輔", "加藤 陽子"],
    "ko": ["정하늘", "강민서", "조현우", "윤지아", "장서준"],
}
ROLES = [("CEO", "decision-maker"), ("Head of Operations", "decision-maker"),
         ("Marketing Lead", "influencer"), ("Finance Manager", "influencer"),
         ("Office Manager", "user"), ("IT Administrator", "user")]

TOPICS = ["the Q{q} roadmap", "renewal terms", "the new website", "the data migration",
          "training for new staff", "pricing for next year", "the analytics dashboard",
          "opening a second site", "the support plan", "the brand refresh"]
OUT_TEXT = {
    "call": ["Check-in call about {t}", "Called to discuss {t}", "Phoned re {t}"],
    "email": ["Sent the proposal for {t}", "Emailed a recap of {t}", "Sent invoice and notes "
              "on {t}"],
    "meeting": ["Workshop on {t}", "Review meeting: {t}", "Planning meeting about {t}"],
    "chat": ["Quick chat about {t}", "Messaged an update on {t}"],
    "visit": ["On-site visit: walked through {t}", "Visited the office to review {t}"],
    "other": ["Sent a card and a small gift", "Shared an article about {t}"],
}
IN_TEXT = {
    "call": ["Called in with questions about {t}", "Rang to ask about {t}"],
    "email": ["Asked for a quote on {t}", "Wrote with a question about {t}"],
    "meeting": ["Asked for a meeting about {t}"],
    "chat": ["Pinged about {t}", "Asked in chat about {t}"],
    "visit": ["Dropped by to talk about {t}"],
    "other": ["Sent a referral our way", "Forwarded a tender about {t}"],
}
# The consultant's answers to inbound messages (what the response-time report measures).
REPLY_TEXT = ["Replied about {t}", "Answered the question on {t}", "Sent the details on {t}",
              "Called back about {t}"]
CJK_REPLIES = {"zh": ["已回复客户的问题", "回电说明了报价细节"],
               "ja": ["問い合わせに返信しました", "折り返し電話で回答"],
               "ko": ["문의에 답장했습니다", "회신 전화로 답변"]}
THANKS = ["Thanked them for the feedback", "Wrote back to thank them for the review"]
CJK_THANKS = {"zh": ["感谢客户的反馈"], "ja": ["フィードバックへのお礼を送信"],
              "ko": ["피드백에 감사 인사 전달"]}
COMPLAINTS = ["Invoice was wrong: charged twice", "Delivery was two weeks late",
              "The report had errors in the Q{q} numbers", "Support took three days to answer",
              "Workshop started late and ran short"]
FEEDBACK = ["Feedback after {t}", "Survey answer: would recommend us", "Review of {t}"]
CJK_TEXT = {
    "zh": {"out": ["电话沟通下季度的采购计划", "发送了报价单和合同草案", "现场拜访，讨论合作细节",
                   "微信确认了会议时间", "邮件发送项目周报"],
           "in": ["客户来电询问续约价格", "客户发邮件要求新的报价", "客户在微信上咨询培训安排"],
           "complaint": ["投诉：发票金额有误", "投诉：交付延迟了两周"],
           "feedback": ["客户反馈：对交付速度很满意", "满意度调查回复"]},
    "ja": {"out": ["電話で来期の計画を確認", "見積書を送付しました", "訪問して打ち合わせ",
                   "チャットで日程を調整", "定例ミーティングの議事録を送付"],
           "in": ["先方から更新価格について問い合わせ", "新しい見積もりの依頼あり",
                  "研修日程についての質問"],
           "complaint": ["クレーム：納期が遅れた", "クレーム：請求書の金額違い"],
           "feedback": ["フィードバック：対応が丁寧で満足", "満足度アンケートの回答"]},
    "ko": {"out": ["전화로 다음 분기 계획 논의", "견적서와 계약서 초안 발송",
                   "방문 미팅: 협력 방안 논의", "메신저로 일정 조율", "주간 보고서 이메일 발송"],
           "in": ["재계약 가격 문의 전화", "새 견적 요청 이메일", "교육 일정 문의"],
           "complaint": ["불만: 배송 지연", "불만: 청구서 금액 오류"],
           "feedback": ["피드백: 서비스에 매우 만족", "만족도 조사 응답"]},
}
DEAL_TITLES = ["Website redesign", "Annual retainer", "Training workshop", "Data migration",
               "Analytics dashboard", "Support plan", "Brand refresh", "Consulting days",
               "Strategy review", "Process audit"]
FOLLOWUP_NOTES = ["Send the renewal quote", "Check in after the training", "Confirm the "
                  "workshop date", "Share the Q{q} roadmap", "Follow up on the proposal",
                  "Ask for a referral", "Chase the signed contract", "Book the quarterly review"]
CJK_NOTES = {"zh": ["确认合同细节", "跟进报价"], "ja": ["見積もりのフォロー", "契約書の確認"],
             "ko": ["계약서 확인", "견적 후속 조치"]}
SOURCES = ["referral", "website", "conference", "linkedin", "partner", "cold call"]
OWNERS = ["alex", "sam"]
# Open follow-up offsets (days from today) handed out in turn: some overdue, some today,
# some this week, some later; None: no open follow-up for that client.
FOLLOWUP_OFFSETS = [-9, 12, None, -4, 0, 21, None, 5, 35, 1, None, 28, 14, 3, 42, None, 18, 9,
                    -2, None, 0, 25, None, 16]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


class DemoBuilder:
    def __init__(self, store, seed: int = 7):
        self.store = store
        self.rng = random.Random(seed)
        # Replies draw from their own generator so that the rest of the book stays as it was.
        self.reply_rng = random.Random(seed * 7919 + 1)
        # The won deals' timing and amounts come from a stream of their own, so that they can
        # follow the buying patterns the BG/NBD and Gamma-Gamma models assume (see won_deals)
        # without reshuffling the rest of the book.
        self.deal_rng = random.Random(seed * 104729 + 3)
        # Deal stages, probabilities, close dates and the moves of a deal through the deal
        # pipeline likewise (see open_deal, closed_deal).
        self.stage_rng = random.Random(seed * 7727 + 5)
        self.buyers: list[int] = []  # clients who buy (loyal, growing): some deals lost too
        self.now = dates.now()
        self.local_now = dates.local(self.now)
        self.today = dates.today()
        pipeline = store.config.pipeline
        won = [s for s in store.config["won_stages"] if s in pipeline]
        lost = [s for s in store.config["lost_stages"] if s in pipeline]
        self.won_stage = won[0] if won else None
        self.lost_stage = lost[0] if lost else None
        self.path = [s for s in pipeline if s not in won and s not in lost]
        self.counts = {"clients": 0, "contacts": 0, "interactions": 0, "complaints": 0,
                       "resolved": 0, "feedback": 0, "deals": 0, "stage_moves": 0,
                       "followups": 0, "followups_done": 0, "recurring": 0, "invoices": 0,
                       "payments": 0}
        self.offset_i = 0
        self.featured_id: int | None = None

    # --- time helpers ---------------------------------------------------

    def at(self, days_ago: float, hour: int | None = None, rng=None) -> datetime:
        """An aware local datetime days_ago before now, in business hours, never in the future."""
        rng = rng or self.rng
        day = self.local_now - timedelta(days=days_ago)
        hour = hour if hour is not None else rng.randint(9, 17)
        moment = day.replace(hour=hour, minute=rng.choice([0, 10, 15, 30, 45]), second=0,
                             microsecond=0)
        if moment > self.local_now:
            moment = self.local_now - timedelta(minutes=rng.randint(5, 90))
        return moment

    def q(self) -> int:
        return (self.today.month - 1) // 3 + 1

    def amount(self, low: int, high: int) -> str:
        whole = self.rng.randrange(low // 50, high // 50) * 50
        if self.rng.random() < 0.7:
            return str(whole)
        return f"{whole - 1}.{self.rng.choice(['50', '99', '25'])}"

    # --- pieces ---------------------------------------------------------

    def text(self, culture: str, key: str, pool: dict | list, **fmt) -> str:
        if culture in CJK_TEXT and self.rng.random() < 0.75:
            return self.rng.choice(CJK_TEXT[culture][key])
        template = self.rng.choice(pool)
        return template.format(t=self.rng.choice(TOPICS).format(q=self.q()), q=self.q(), **fmt)

    def add_client(self, spec, profile: str, created_days: int, index: int) -> int:
        name, company, domain, industry, size, culture, region = spec
        if culture == "en":
            first, _, last = name.partition(" ")
            email = f"{_ascii(first)}.{_ascii(last).replace(chr(39), '')}@{domain}"
        else:
            email = f"{['info', 'office', 'contact'][index % 3]}@{domain}"
        phone = {"zh": "+86 {a} {b:04d} {c:04d}", "ja": "+81 {a} {b:04d} {c:04d}",
                 "ko": "+82 {a} {b:04d} {c:04d}"}.get(culture, "+1 {a}55 {b:03d} {c:04d}")
        phone = phone.format(a=self.rng.randint(2, 9), b=self.rng.randint(100, 999),
                             c=self.rng.randint(1000, 9999))
        tags = [region]
        if name in VIPS:
            tags.append("vip")
        tags.append("enterprise" if size in ("201-1000",) else "smb")
        if profile in ("loyal", "growing") and self.rng.random() < 0.5:
            tags.append("retainer")
        if self.rng.random() < 0.3:
            tags.append("newsletter")
        source = SOURCES[index % len(SOURCES)]
        if source == "referral":
            tags.append("referral")
        created = self.at(created_days)
        client_id = self.store.clients.add(
            name, company=company, email=email, phone=phone, industry=industry, size=size,
            owner=OWNERS[index % 2], source=source,
            stage=self.path[0] if self.path else None, tags=tags,
            custom={"language": {"zh": "Chinese", "ja": "Japanese", "ko": "Korean"}.get(
                culture, "English")},
            at=self.store_at(created))
        self.counts["clients"] += 1
        if self.path:
            self.counts["stage_moves"] += 1
        return client_id

    def store_at(self, moment: datetime) -> str:
        return dates.to_utc_iso(moment)

    def add_contacts(self, client_id: int, culture: str, domain: str, count: int | None = None
                     ) -> list[int]:
        ids = []
        names = self.rng.sample(CONTACT_NAMES[culture], count or self.rng.randint(1, 3))
        for i, person in enumerate(names):
            role, level = ROLES[(i * 2 + self.rng.randint(0, 1)) % len(ROLES)]
            handle = _ascii(person).replace(" ", ".") if culture == "en" else f"staff{i + 1}"
            ids.append(self.store.contacts.add(
                client_id, person, role=role, decision_level=level,
                email=f"{handle}@{domain}", is_primary=(i == 0)))
            self.counts["contacts"] += 1
        return ids

    def move_stages(self, client_id: int, created_days: int, profile: str) -> int | None:
        """Walk the pipeline; returns days-ago of the win (None if never won)."""
        if not self.path:
            return None
        if profile == "lead":
            return None
        steps = {"pipeline": self.rng.randint(1, max(1, len(self.path) - 1))}.get(
            profile, len(self.path) - 1)
        day = created_days
        for stage in self.path[1:steps + 1]:
            day = max(1, day - self.rng.randint(7, 25))
            self.store.clients.set_stage(client_id, stage, at=self.store_at(self.at(day)))
            self.counts["stage_moves"] += 1
        final = None
        if profile in ("loyal", "growing", "stale") and self.won_stage:
            final = self.won_stage
        elif profile == "lost" and self.lost_stage:
            final = self.lost_stage
        if final:
            day = max(1, day - self.rng.randint(5, 20))
            self.store.clients.set_stage(client_id, final, at=self.store_at(self.at(day)),
                                 note="signed" if final == self.won_stage else "went with a "
                                                                                "competitor")
            self.counts["stage_moves"] += 1
            return day
        return None

    def log(self, client_id: int, culture: str, days_ago: float, contacts: list[int],
            profile: str, *, allow_followup: bool = True) -> None:
        rng = self.rng
        channel = rng.choices(["email", "call", "meeting", "chat", "visit", "other"],
                              [35, 25, 15, 12, 8, 5])[0]
        roll = rng.random()
        kind, score, direction = "note", None, "out" if rng.random() < 0.6 else "in"
        if roll < 0.06:
            kind, direction = "complaint", "in"
            summary = self.text(culture, "complaint", COMPLAINTS)
        elif roll < 0.16:
            kind, direction = "feedback", "in"
            low = {"loyal": 8, "growing": 7, "stale": 3, "lost": 1}.get(profile, 5)
            score = min(10, rng.randint(low, low + 3))
            summary = self.text(culture, "feedback", FEEDBACK)
        else:
            summary = self.text(culture, direction, OUT_TEXT[channel] if direction == "out"
                                else IN_TEXT[channel])
        moment = self.at(days_ago)
        next_due = None
        if (allow_followup and direction == "out" and channel in ("meeting", "visit", "call")
                and rng.random() < 0.35 and days_ago > 10):
            next_due = (moment + timedelta(days=rng.randint(3, 8))).date()
        ids = self.store.interactions.log(
            client_id, summary, at=moment, channel=channel, direction=direction, kind=kind,
            score=score, contact_id=rng.choice(contacts) if contacts and rng.random() < 0.6
            else None, next_due=next_due,
            next_note=self.followup_note(culture) if next_due else None)
        self.counts["interactions"] += 1
        if kind == "complaint":
            self.counts["complaints"] += 1
            fix = moment + timedelta(hours=rng.randint(3, 24 * 6))
            # Open complaints are recent ones: nobody leaves a complaint open for months.
            if ((rng.random() < 0.75 or moment < self.local_now - timedelta(days=40))
                    and fix < self.local_now):
                self.store.interactions.resolve(ids["interaction_id"], self.store_at(fix))
                self.counts["resolved"] += 1
        if kind == "feedback":
            self.counts["feedback"] += 1
        if direction == "in":
            self.reply(client_id, culture, channel, moment, thanks=kind == "feedback")
        if ids["followup_id"]:
            self.counts["followups"] += 1
            done = moment + timedelta(days=rng.randint(2, 9))
            if done < self.local_now - timedelta(days=1):
                self.store.followups.complete(ids["followup_id"], at=self.store_at(done))
                self.counts["followups_done"] += 1

    def reply(self, client_id: int, culture: str, channel: str, asked: datetime, *,
              thanks: bool) -> None:
        """Most inbound messages get an answer: mostly within the working day, some the next
        day, a few after several days; some of the latest are still waiting."""
        rng = self.reply_rng
        if rng.random() >= (0.7 if thanks else 0.93):
            return
        band = rng.random()
        hours = (rng.uniform(0.5, 8) if band < 0.7 else rng.uniform(8, 30) if band < 0.9
                 else rng.uniform(30, 120))
        moment = (asked + timedelta(hours=hours)).replace(second=0, microsecond=0)
        if moment >= self.local_now:
            return
        if thanks:
            summary = rng.choice(CJK_THANKS.get(culture, THANKS)) if rng.random() < 0.75 \
                else THANKS[0]
        elif culture in CJK_REPLIES and rng.random() < 0.75:
            summary = rng.choice(CJK_REPLIES[culture])
        else:
            summary = rng.choice(REPLY_TEXT).format(t=rng.choice(TOPICS).format(q=self.q()))
        self.store.interactions.log(
            client_id, summary, at=moment, direction="out", kind="note",
            channel=channel if channel in ("email", "chat", "call") else "email")
        self.counts["interactions"] += 1

    def followup_note(self, culture: str) -> str:
        if culture in CJK_NOTES and self.rng.random() < 0.7:
            return self.rng.choice(CJK_NOTES[culture])
        return self.rng.choice(FOLLOWUP_NOTES).format(q=self.q() % 4 + 1)

    def history(self, client_id: int, culture: str, contacts: list[int], profile: str,
                created_days: int, last_days: int | None) -> None:
        if last_days is None:
            return
        day = created_days - self.rng.randint(1, 5)
        moments = []
        while day > last_days:
            moments.append(day)
            gap = {"loyal": (8, 30), "growing": (10, 35), "pipeline": (4, 14)}.get(
                profile, (12, 45))
            day -= self.rng.randint(*gap)
        moments.append(last_days)
        for days_ago in moments:
            self.log(client_id, culture, days_ago, contacts, profile)

    def deals(self, client_id: int, profile: str, created_days: int, won_days: int | None,
              last_days: int | None) -> None:
        rng = self.rng
        if profile in ("loyal", "growing", "stale") and won_days is not None:
            day = won_days
            end = (last_days or 1) + (5 if profile == "stale" else 0)
            count = 0
            while day >= end and (profile != "growing" or count < 2):
                # the draws the main stream has always made here, so the rest of the book
                # (and the README's examples of it) stays as it was
                self.amount(800, 16000), self.at(day), rng.choice(DEAL_TITLES)
                count += 1
                day -= rng.randint(45, 120) if profile != "stale" else rng.randint(60, 100)
            self.won_deals(client_id, profile, won_days, end)
            if profile == "loyal" and rng.random() < 0.5:
                self.open_deal(client_id, self.amount(2000, 20000), self.at(
                    rng.randint(1, 20)), rng.choice(DEAL_TITLES) + " (phase 2)")
        elif profile == "pipeline":
            self.open_deal(client_id, self.amount(1500, 25000),
                           self.at(rng.randint(1, max(2, min(created_days - 1, 30)))),
                           rng.choice(DEAL_TITLES))
        elif profile == "lost":
            self.closed_deal(client_id, self.amount(1500, 12000),
                             self.at(max(2, (last_days or 30) + rng.randint(1, 10))),
                             rng.choice(DEAL_TITLES), "lost")

    def open_deal(self, client_id: int, amount: str, opened: datetime, title: str) -> None:
        """An open deal that went through the deal pipeline since it was opened: a stage
        (later ones rarer), each move on its day, an expected close date weeks ahead (a few
        already slipped past), now and then a probability of its own."""
        rng = self.stage_rng
        stages = list(self.store.deals.stages)
        reach = min(len(stages) - 1, int(rng.triangular(0, len(stages), 0)))
        close = self.today + timedelta(days=rng.choice([-6, 3, 5, 8, 14, 21, 30, 45, 60, 100]))
        deal_id = self.store.deals.add(client_id, amount, at=opened, title=title,
                                       stage=stages[0], close_date=close)
        self.counts["deals"] += 1
        span = (self.now - opened).total_seconds()
        for i in range(1, reach + 1):
            moved = opened + timedelta(seconds=span * i / (reach + 1))
            self.store.deals.move(deal_id, stages[i], at=moved)
        if rng.random() < 0.25:
            self.store.deals.edit(deal_id, probability=rng.choice([20, 40, 55, 70, 90]))

    def closed_deal(self, client_id: int, amount: str, closed: datetime, title: str,
                    outcome: str) -> None:
        """A won or lost deal. Those of the last nine months were tracked from their first
        stage (cycles of a few weeks, through the stages a won deal needs), so that the
        forecast's win rate and cycle length have a history to read; older ones were
        recorded as they closed."""
        rng = self.stage_rng
        if (self.now - closed).days > 270 or rng.random() < 0.3:
            self.store.deals.add(client_id, amount, at=closed, title=title, status=outcome)
            self.counts["deals"] += 1
            return
        stages = list(self.store.deals.stages)
        cycle = timedelta(days=rng.randint(12, 75), hours=rng.randint(0, 8))
        reach = len(stages) - 1 if outcome == "won" else rng.randint(0, len(stages) - 2)
        deal_id = self.store.deals.add(client_id, amount, at=closed - cycle, title=title,
                                       stage=stages[0])
        self.counts["deals"] += 1
        for i in range(1, reach + 1):
            self.store.deals.move(deal_id, stages[i], at=closed - cycle * (1 - i / (reach + 2)))
        self.store.deals.move(deal_id, outcome, at=closed)

    def lost_deals(self) -> None:
        """Opportunities that buying clients did not take, in the last nine months (after
        the rest of the book, so that its deal ids stay as they were): the forecast's win
        rate has losses to weigh."""
        rng = self.stage_rng
        for client_id in rng.sample(self.buyers, min(len(self.buyers), 9)):
            amount = f"{rng.randint(20, 240) * 50}"
            self.closed_deal(client_id, amount, self.at(rng.randint(5, 270), rng=rng),
                             rng.choice(DEAL_TITLES), "lost")

    def won_deals(self, client_id: int, profile: str, first_days: int, end_days: int) -> None:
        """A client's won deals as the probabilistic CLV models see buyers: each client has
        its own buying rate (gaps drawn around a personal mean of 1-6 months) and its own
        typical deal size (amounts spread around a personal mean), so clients differ the
        way BG/NBD and Gamma-Gamma need to be fitted; `stale` clients stop buying."""
        rng = self.deal_rng
        mean_gap = rng.gammavariate(4.0, 18.0)
        mean_amount = rng.gammavariate(2.5, 2600.0)
        day, count = first_days, 0
        while day >= end_days and (profile != "growing" or count < 2):
            amount = max(300, round(mean_amount * rng.gammavariate(1.5, 1 / 1.5) / 50) * 50)
            self.closed_deal(client_id, f"{amount - 1}.99" if rng.random() < 0.3
                             else str(amount), self.at(day, rng=rng), rng.choice(DEAL_TITLES),
                             "won")
            count += 1
            day -= max(14, rng.expovariate(1 / mean_gap))

    def open_followup(self, client_id: int, culture: str) -> None:
        offset = FOLLOWUP_OFFSETS[self.offset_i % len(FOLLOWUP_OFFSETS)]
        self.offset_i += 1
        if offset is None:
            return
        due: date | datetime = self.today + timedelta(days=offset)
        if offset == 1:  # one timed follow-up: tomorrow at 14:30
            due = self.local_now.replace(hour=14, minute=30, second=0, microsecond=0) + \
                timedelta(days=1)
        self.store.followups.add(client_id, due, self.followup_note(culture))
        self.counts["followups"] += 1

    # --- the whole book --------------------------------------------------

    def build(self) -> dict:
        rng = self.rng
        store = self.store
        for index, (spec, profile) in enumerate(zip(CLIENTS, PROFILES, strict=True)):
            name, culture, domain = spec[0], spec[5], spec[2]
            created_days = {"loyal": rng.randint(480, 600), "growing": rng.randint(120, 300),
                            "pipeline": rng.randint(30, 150), "stale": rng.randint(330, 560),
                            "lost": rng.randint(100, 300), "lead": rng.randint(6, 40)}[profile]
            last_days = {"loyal": rng.randint(2, 9), "growing": rng.randint(3, 12),
                         "pipeline": rng.randint(1, 9), "stale": rng.randint(38, 150),
                         "lost": rng.randint(60, 120),
                         "lead": rng.choice([None, rng.randint(1, 5)])}[profile]
            if profile == "lead" and index == 30:
                last_days = None  # a lead nobody has called yet
            client_id = self.add_client(spec, profile, created_days, index)
            if name == FEATURED:
                self.featured_id = client_id
            contacts = self.add_contacts(client_id, culture, domain,
                                         3 if name == FEATURED else None)
            won_days = self.move_stages(client_id, created_days, profile)
            self.history(client_id, culture, contacts, profile, created_days, last_days)
            self.deals(client_id, profile, created_days, won_days, last_days)
            if profile in ("loyal", "growing"):
                self.buyers.append(client_id)
            if profile in ("loyal", "growing", "pipeline"):
                self.open_followup(client_id, culture)
            # Cadence per client: VIPs every two weeks, customers monthly, deals in flight
            # every two weeks; lost clients have none.
            if name in VIPS:
                store.clients.set_cadence(client_id, "2w", "4w")
            elif profile in ("loyal", "growing", "stale"):
                store.clients.set_cadence(client_id, "1m", None)
            elif profile in ("pipeline", "lead"):
                store.clients.set_cadence(client_id, "2w", "3w")
        self.recurring()
        self.archived()
        self.invoices()
        self.lost_deals()
        return {"featured_id": self.featured_id, **self.counts,
                "now": dates.to_utc_iso(self.now)}

    def recurring(self) -> None:
        """A monthly check-in with the featured client (done once, rolled forward) and a
        weekly status call with a deal in flight that is a couple of days overdue."""
        store = self.store
        rule = dates.parse_every("monthly")
        first = self.today - timedelta(days=40)
        fid = store.followups.add(self.featured_id, first, "Monthly check-in call", every=rule)
        store.followups.complete(fid, at=self.store_at(self.at(39)))
        self.counts["followups"] += 2
        self.counts["followups_done"] += 1
        self.counts["recurring"] += 1
        pipeline_client = store.clients.resolve("Priya Natarajan")
        store.followups.add(pipeline_client["id"], self.today - timedelta(days=2),
                           "Weekly status call", every=dates.parse_every("weekly"))
        self.counts["followups"] += 1
        self.counts["recurring"] += 1

    def archived(self) -> None:
        """A former client, archived: its forgotten follow-up never shows in `crm due`."""
        store = self.store
        client_id = store.clients.add("Old Mill Furniture", company="Old Mill Furniture Ltd",
                                     industry="retail", owner="sam", source="website",
                                     tags=["europe"], at=self.store_at(self.at(700)))
        self.log(client_id, "en", 400, [], "stale", allow_followup=False)
        store.followups.add(client_id, self.today - timedelta(days=200), "Collect the old "
                                                                       "invoice")
        store.clients.archive(client_id)
        self.counts["clients"] += 1
        self.counts["followups"] += 1

    def invoices(self) -> None:
        """An invoice for each won deal of the last 200 days (30 days' terms), oldest first:
        most older ones paid, some in part, a few left overdue; recent ones mostly open.
        From a stream of their own, so that the rest of the book stays as it was."""
        store = self.store
        rng = random.Random(7727)
        won = [d for d in store.deals.list(status="won")
               if (self.today - dates.local_date_of(d["at"])).days <= 200]
        for deal in sorted(won, key=lambda d: (d["at"], d["id"])):
            issued = dates.local_date_of(deal["at"]) + timedelta(days=rng.randint(0, 3))
            if issued > self.today:
                continue
            invoice_id = store.invoices.add(deal["client_id"], deal["amount"], deal_id=deal["id"],
                                            issued=issued, terms=30)
            self.counts["invoices"] += 1
            age = (self.today - issued).days
            roll = rng.random()
            amount = Decimal(deal["amount"])
            if age > 45 and roll < 0.75 or age <= 45 and roll < 0.3:
                parts = [amount]
            elif roll < 0.9:
                half = (amount / 2).quantize(Decimal("0.01"))
                parts = [half]
            else:
                parts = []
            day = issued
            for part in parts:
                day = min(self.today - timedelta(days=1),
                          day + timedelta(days=rng.randint(10, 50)))
                if day < issued:
                    break
                store.invoices.pay(invoice_id, part, at=self.at((self.today - day).days, rng=rng))
                self.counts["payments"] += 1


def build_demo(store, seed: int = 7) -> dict:
    """Fill an empty store with the demo book (one change); returns counts and featured_id."""
    with store.change("demo", "built the demo book of business") as ch:
        result = DemoBuilder(store, seed).build()
        ch.client_id = None
        ch.summary = (f"built the demo book: {result['clients']} clients, "
                      f"{result['interactions']} interactions, {result['deals']} deals")
    return result

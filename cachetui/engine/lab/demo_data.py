"""Believable demo profiles for seeding, deterministic for a given seed."""

from __future__ import annotations

import random
from collections.abc import Iterator

from cachetui.engine.profile import Profile

#: The most demo profiles one seed makes (about 1.2 GB of SQLite): a bound on a typed
#: count, so that a slip of the keyboard cannot fill the disk.
MAX_SEED_PROFILES = 10_000_000

FIRST_NAMES = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Guido",
    "Katherine",
    "Donald",
    "Hedy",
    "Tim",
    "Sophie",
    "John",
    "Anita",
    "Niklaus",
    "Shafi",
    "Leslie",
    "Joan",
    "Bjarne",
    "Adele",
    "Yukihiro",
    "Mary",
    "Rasmus",
    "Carol",
    "Brendan",
    "Hamid",
    "Lena",
    "Mateo",
    "Amara",
    "Priya",
    "Kenji",
    "Ingrid",
    "Tomas",
    "Zainab",
    "Oskar",
    "Chloe",
    "Ravi",
    "Mei",
    "Jonas",
    "Aisha",
    "Diego",
)
LAST_NAMES = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "van Rossum",
    "Johnson",
    "Knuth",
    "Lamarr",
    "Berners-Lee",
    "Wilson",
    "McCarthy",
    "Borg",
    "Wirth",
    "Goldwasser",
    "Lamport",
    "Clarke",
    "Stroustrup",
    "Goldberg",
    "Matsumoto",
    "Shaw",
    "Lerdorf",
    "Shaw",
    "Eich",
    "Okafor",
    "Nilsson",
    "Garcia",
    "Mensah",
    "Raman",
    "Tanaka",
    "Berg",
    "Novak",
    "Haddad",
    "Lindqvist",
    "Martin",
    "Iyer",
    "Chen",
    "Weber",
    "Bello",
    "Rojas",
)
LOCATIONS = (
    "Lisbon",
    "Berlin",
    "Nairobi",
    "Osaka",
    "Toronto",
    "São Paulo",
    "Melbourne",
    "Oslo",
    "Bangalore",
    "Mexico City",
    "Lagos",
    "Seoul",
    "Edinburgh",
    "Montréal",
    "Cape Town",
    "Reykjavík",
    "Austin",
    "Warsaw",
    "Singapore",
    "Buenos Aires",
    "Tallinn",
    "Kyoto",
    "Dublin",
    "Accra",
    "Hanoi",
    "Zürich",
    "Portland",
    "Tbilisi",
    "",
)
ROLES = (
    "backend engineer",
    "SRE",
    "database nerd",
    "frontend dev",
    "data engineer",
    "platform engineer",
    "security researcher",
    "PhD student",
    "CTO",
    "indie hacker",
    "open-source maintainer",
    "tech writer",
    "game developer",
    "ML engineer",
)
LIKES = (
    "cold brew",
    "distributed systems",
    "mechanical keyboards",
    "bouldering",
    "sourdough",
    "vintage synths",
    "trail running",
    "chess",
    "board games",
    "jazz",
    "sci-fi novels",
    "film photography",
    "cycling",
    "Rust",
    "Postgres internals",
    "cache invalidation",
    "naming things",
    "terminal UIs",
    "retro computing",
    "tea",
)
BIO_TEMPLATES = (
    "{role} who loves {like} and {like2}.",
    "{role}. Into {like}. Opinions are my cat's.",
    "Writing code by day, {like} by night.",
    "{role} at a startup you have not heard of. Loves {like}.",
    "Recovering {role}. Now mostly {like} and {like2}.",
    "I make databases fast and caches consistent (mostly).",
    "",
)


def demo_profile(user_id: int, rng: random.Random, updated_at: str) -> Profile:
    role = rng.choice(ROLES)
    like, like2 = rng.sample(LIKES, 2)
    bio = rng.choice(BIO_TEMPLATES).format(role=role, like=like, like2=like2)
    bio = bio[:1].upper() + bio[1:]
    return Profile(
        user_id=user_id,
        name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        bio=bio,
        location=rng.choice(LOCATIONS),
        followers=int(rng.paretovariate(1.2) * 40) - 40 + rng.randint(0, 30),
        version=1,
        updated_at=updated_at,
    )


def demo_profiles(count: int, updated_at: str, seed: int = 42, start: int = 1) -> Iterator[Profile]:
    rng = random.Random(seed)
    for user_id in range(start, start + count):
        yield demo_profile(user_id, rng, updated_at)


def random_changes(rng: random.Random) -> dict[str, object]:
    """One plausible edit of a random field, as the `u` key and the workload make."""
    field = rng.choice(("bio", "location", "followers", "followers", "name"))
    if field == "bio":
        role = rng.choice(ROLES)
        like, like2 = rng.sample(LIKES, 2)
        text = rng.choice(BIO_TEMPLATES).format(role=role, like=like, like2=like2)
        return {"bio": text[:1].upper() + text[1:]}
    if field == "location":
        return {"location": rng.choice(LOCATIONS)}
    if field == "name":
        return {"name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"}
    return {"followers": rng.randint(0, 50_000)}

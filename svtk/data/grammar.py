"""The text of the synthetic corpus: a smart-home command grammar and opinion sentences.

Every template is written in English with hand-written German and French parallel templates, and
every slot value carries its translations (with the inflected forms a template needs, e.g. the
German "in der Küche" for ``{room@in}``). Filling a template gives a :class:`Sentence` whose
labels are all carried by its words: transcript (ASR), translations (ST), intent and slots
(IC, SF), sentiment (ASC) and content words (KWE, KWS).

Reads and writes nothing; pure data and a seeded sampler.

Usage::

    rng = random.Random(0)
    s = sample_sentence(rng, domain="command")
    s.text, s.intent, s.slots, s.translations["de"]
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field

LANGUAGES = {"de": "German", "fr": "French"}  # ST target languages (code -> name in prompts)


@dataclass(frozen=True)
class Value:
    """A slot value: English surface (also the SF value) and per-language forms (``""`` = base)."""

    en: str
    de: dict[str, str]
    fr: dict[str, str]


def V(en: str, de: str | dict[str, str], fr: str | dict[str, str]) -> Value:  # noqa: N802
    def as_forms(x):
        return ({"": x} if isinstance(x, str) else x)
    return Value(en, as_forms(de), as_forms(fr))


def _de_fr(fr: str) -> str:
    """French "de" + a name, elided before a vowel (d'Adele, de Coldplay, des Beatles)."""
    if fr.startswith("les "):
        return "des " + fr[4:]
    return ("d'" if fr[:1].lower() in "aeiouhé" else "de ") + fr


def _a_fr(fr: str) -> str:
    """French "à" + a name or noun phrase (à maman, au docteur Smith)."""
    return "au " + fr[3:] if fr.startswith("le ") else "à " + fr


def _de_def_fr(fr: str) -> str:
    """French "de" + a definite noun phrase (du film, de la pizza, de l'hôtel)."""
    return "du " + fr[3:] if fr.startswith("le ") else "de " + fr


def _artist(en: str, de: str, fr: str, de_dat: str | None = None) -> Value:
    """A band or singer: German accusative (base) and dative, French base and with "de"."""
    return V(en, {"": de, "dat": de_dat or de}, {"": fr, "de": _de_fr(fr)})


def _person(en: str, de: str, fr: str, de_dat: str | None = None) -> Value:
    """A contact: German accusative (base) and dative, French base and with "à"."""
    return V(en, {"": de, "dat": de_dat or de}, {"": fr, "a": _a_fr(fr)})


@dataclass(frozen=True)
class Template:
    en: str
    de: str
    fr: str
    intent: str | None = None  # commands only
    sentiment: str = "neutral"


# --------------------------------------------------------------------------------------------
# Slot values (slot type -> values). SF values are the English surface strings.
# --------------------------------------------------------------------------------------------

SLOT_TYPES: dict[str, str] = {
    "room": "a room of the house",
    "temperature": "a temperature in degrees",
    "genre": "a music genre",
    "artist": "a band or singer",
    "time": "a time of day",
    "date": "a day or date",
    "place": "a city",
    "duration": "a length of time",
    "person": "a person to contact",
    "item": "a product to buy",
    "topic": "a news topic",
    "event": "a calendar event",
}

SLOTS: dict[str, list[Value]] = {
    "room": [
        V("kitchen", {"": "Küche", "in": "in der Küche"}, {"": "cuisine", "in": "dans la cuisine"}),
        V("living room", {"": "Wohnzimmer", "in": "im Wohnzimmer"}, {"": "salon", "in": "dans le salon"}),
        V("bedroom", {"": "Schlafzimmer", "in": "im Schlafzimmer"}, {"": "chambre", "in": "dans la chambre"}),
        V("bathroom", {"": "Badezimmer", "in": "im Badezimmer"}, {"": "salle de bain", "in": "dans la salle de bain"}),
        V("office", {"": "Büro", "in": "im Büro"}, {"": "bureau", "in": "dans le bureau"}),
        V("hallway", {"": "Flur", "in": "im Flur"}, {"": "couloir", "in": "dans le couloir"}),
        V("garage", {"": "Garage", "in": "in der Garage"}, {"": "garage", "in": "dans le garage"}),
        V("dining room", {"": "Esszimmer", "in": "im Esszimmer"}, {"": "salle à manger", "in": "dans la salle à manger"}),
    ],
    "temperature": [
        V(w, n, n) for w, n in [("eighteen", "18"), ("nineteen", "19"), ("twenty", "20"),
                                ("twenty one", "21"), ("twenty two", "22"), ("twenty three", "23"),
                                ("seventeen", "17"), ("twenty five", "25")]
    ],
    "genre": [
        V("jazz", {"music": "Jazzmusik"}, {"music": "du jazz"}),
        V("rock", {"music": "Rockmusik"}, {"music": "du rock"}),
        V("classical", {"music": "klassische Musik"}, {"music": "de la musique classique"}),
        V("pop", {"music": "Popmusik"}, {"music": "de la pop"}),
        V("country", {"music": "Countrymusik"}, {"music": "de la musique country"}),
        V("blues", {"music": "Bluesmusik"}, {"music": "du blues"}),
        V("reggae", {"music": "Reggaemusik"}, {"music": "du reggae"}),
        V("hip hop", {"music": "Hip-Hop-Musik"}, {"music": "du hip-hop"}),
    ],
    "artist": [
        _artist("the beatles", "die Beatles", "les Beatles", de_dat="den Beatles"),
        *[_artist(a, t, t) for a, t in [
            ("adele", "Adele"), ("coldplay", "Coldplay"), ("madonna", "Madonna"),
            ("queen", "Queen"), ("abba", "ABBA"), ("elvis presley", "Elvis Presley"),
            ("taylor swift", "Taylor Swift")]],
    ],
    "time": [
        V("seven in the morning", "7 Uhr morgens", "7 heures du matin"),
        V("half past six", "halb sieben", "6 heures et demie"),
        V("eight thirty", "8:30 Uhr", "8 heures 30"),
        V("noon", "12 Uhr mittags", "midi"),
        V("six in the evening", "18 Uhr", "18 heures"),
        V("nine fifteen", "9:15 Uhr", "9 heures 15"),
        V("midnight", "Mitternacht", "minuit"),
        V("ten in the morning", "10 Uhr morgens", "10 heures du matin"),
    ],
    "date": [
        V("today", "heute", "aujourd'hui"),
        V("tomorrow", "morgen", "demain"),
        V("tonight", "heute Abend", "ce soir"),
        V("this weekend", "dieses Wochenende", "ce week-end"),
        V("next week", "nächste Woche", "la semaine prochaine"),
        V("this afternoon", "heute Nachmittag", "cet après-midi"),
        V("tomorrow morning", "morgen früh", "demain matin"),
    ],
    "place": [
        V("london", "London", "Londres"), V("paris", "Paris", "Paris"),
        V("berlin", "Berlin", "Berlin"), V("new york", "New York", "New York"),
        V("tokyo", "Tokio", "Tokyo"), V("madrid", "Madrid", "Madrid"),
        V("rome", "Rom", "Rome"), V("boston", "Boston", "Boston"),
        V("dublin", "Dublin", "Dublin"), V("edinburgh", "Edinburgh", "Édimbourg"),
    ],
    "duration": [
        V("five minutes", "fünf Minuten", "cinq minutes"),
        V("ten minutes", "zehn Minuten", "dix minutes"),
        V("half an hour", "eine halbe Stunde", "une demi-heure"),
        V("one hour", "eine Stunde", "une heure"),
        V("twenty minutes", "zwanzig Minuten", "vingt minutes"),
        V("ninety seconds", "neunzig Sekunden", "quatre-vingt-dix secondes"),
        V("two hours", "zwei Stunden", "deux heures"),
        V("fifteen minutes", "fünfzehn Minuten", "quinze minutes"),
    ],
    "person": [_person(en, de, fr) for en, de, fr in [
        ("mom", "Mama", "maman"), ("dad", "Papa", "papa"), ("john", "John", "John"),
        ("sarah", "Sarah", "Sarah"), ("doctor smith", "Doktor Smith", "le docteur Smith"),
        ("grandma", "Oma", "mamie"), ("alice", "Alice", "Alice"), ("peter", "Peter", "Peter")]],
    "item": [
        V("milk", "Milch", "du lait"), V("eggs", "Eier", "des œufs"),
        V("bread", "Brot", "du pain"), V("coffee", "Kaffee", "du café"),
        V("apples", "Äpfel", "des pommes"), V("butter", "Butter", "du beurre"),
        V("rice", "Reis", "du riz"), V("tomatoes", "Tomaten", "des tomates"),
    ],
    "topic": [
        V("sports", "Sport", "le sport"), V("business", "Wirtschaft", "l'économie"),
        V("technology", "Technik", "la technologie"), V("politics", "Politik", "la politique"),
        V("science", "Wissenschaft", "la science"), V("health", "Gesundheit", "la santé"),
    ],
    "event": [
        V("meeting", {"acc": "ein Meeting"}, {"indef": "une réunion"}),
        V("dentist appointment", {"acc": "einen Zahnarzttermin"}, {"indef": "un rendez-vous chez le dentiste"}),
        V("birthday party", {"acc": "eine Geburtstagsfeier"}, {"indef": "une fête d'anniversaire"}),
        V("lunch", {"acc": "ein Mittagessen"}, {"indef": "un déjeuner"}),
        V("dinner", {"acc": "ein Abendessen"}, {"indef": "un dîner"}),
        V("team meeting", {"acc": "ein Teammeeting"}, {"indef": "une réunion d'équipe"}),
    ],
    # Not an SF slot: the object of an opinion sentence.
    "thing": [
        V(en, {"nom": nom, "acc": acc, "dat": dat}, {"def": fr, "de": _de_def_fr(fr)})
        for en, nom, acc, dat, fr in [
            ("movie", "der Film", "den Film", "dem Film", "le film"),
            ("restaurant", "das Restaurant", "das Restaurant", "dem Restaurant", "le restaurant"),
            ("hotel", "das Hotel", "das Hotel", "dem Hotel", "l'hôtel"),
            ("concert", "das Konzert", "das Konzert", "dem Konzert", "le concert"),
            ("book", "das Buch", "das Buch", "dem Buch", "le livre"),
            ("new phone", "das neue Handy", "das neue Handy", "dem neuen Handy", "le nouveau téléphone"),
            ("service", "der Service", "den Service", "dem Service", "le service"),
            ("pizza", "die Pizza", "die Pizza", "der Pizza", "la pizza"),
            ("museum", "das Museum", "das Museum", "dem Museum", "le musée"),
            ("train ride", "die Zugfahrt", "die Zugfahrt", "der Zugfahrt", "le trajet en train"),
        ]
    ],
}

NON_SF_SLOTS = frozenset({"thing"})

# --------------------------------------------------------------------------------------------
# Intents (label -> description) and command templates
# --------------------------------------------------------------------------------------------

INTENTS: dict[str, str] = {
    "lights_on": "switch the lights on",
    "lights_off": "switch the lights off",
    "set_temperature": "change the heating temperature",
    "play_music": "play music",
    "set_alarm": "set a wake-up alarm",
    "weather_query": "ask about the weather",
    "set_timer": "start a countdown timer",
    "call_contact": "phone somebody",
    "add_to_list": "add something to the shopping list",
    "volume_up": "make the sound louder",
    "volume_down": "make the sound quieter",
    "news_query": "ask for the news",
    "order_taxi": "book a taxi",
    "calendar_add": "put an event in the calendar",
}

T = Template
COMMANDS: list[Template] = [
    T("turn on the lights in the {room}", "Schalte das Licht {room@in} ein.", "Allume la lumière {room@in}.", "lights_on"),
    T("switch the lights on in the {room}", "Mach das Licht {room@in} an.", "Allume les lumières {room@in}.", "lights_on"),
    T("can you turn the lights on in the {room}", "Kannst du das Licht {room@in} einschalten?", "Peux-tu allumer la lumière {room@in} ?", "lights_on"),
    T("lights on please", "Licht an, bitte.", "Lumière, s'il te plaît.", "lights_on"),
    T("turn off the lights in the {room}", "Schalte das Licht {room@in} aus.", "Éteins la lumière {room@in}.", "lights_off"),
    T("switch the lights off in the {room}", "Mach das Licht {room@in} aus.", "Éteins les lumières {room@in}.", "lights_off"),
    T("please turn the lights off", "Bitte schalte das Licht aus.", "Éteins la lumière, s'il te plaît.", "lights_off"),
    T("no more light in the {room}", "Kein Licht mehr {room@in}.", "Plus de lumière {room@in}.", "lights_off"),
    T("set the temperature to {temperature} degrees", "Stelle die Temperatur auf {temperature} Grad.", "Règle la température à {temperature} degrés.", "set_temperature"),
    T("make it {temperature} degrees in the {room}", "Mach es {room@in} {temperature} Grad warm.", "Mets {temperature} degrés {room@in}.", "set_temperature"),
    T("change the heating to {temperature} degrees", "Stelle die Heizung auf {temperature} Grad.", "Mets le chauffage à {temperature} degrés.", "set_temperature"),
    T("play some {genre} music", "Spiel {genre@music}.", "Mets {genre@music}.", "play_music"),
    T("put on some {genre}", "Leg {genre@music} auf.", "Passe {genre@music}.", "play_music"),
    T("play songs by {artist}", "Spiel Lieder von {artist@dat}.", "Joue des chansons {artist@de}.", "play_music"),
    T("i want to listen to {artist}", "Ich möchte {artist} hören.", "Je veux écouter {artist}.", "play_music"),
    T("set an alarm for {time}", "Stelle einen Wecker für {time}.", "Mets une alarme pour {time}.", "set_alarm"),
    T("wake me up at {time}", "Weck mich um {time}.", "Réveille-moi à {time}.", "set_alarm"),
    T("wake me up {date} at {time}", "Weck mich {date} um {time}.", "Réveille-moi {date} à {time}.", "set_alarm"),
    T("what is the weather like in {place}", "Wie ist das Wetter in {place}?", "Quel temps fait-il à {place} ?", "weather_query"),
    T("will it rain in {place} {date}", "Wird es {date} in {place} regnen?", "Va-t-il pleuvoir à {place} {date} ?", "weather_query"),
    T("how cold is it in {place} {date}", "Wie kalt ist es {date} in {place}?", "Quel froid fait-il à {place} {date} ?", "weather_query"),
    T("what is the forecast for {date}", "Wie ist die Vorhersage für {date}?", "Quelles sont les prévisions pour {date} ?", "weather_query"),
    T("set a timer for {duration}", "Stelle einen Timer für {duration}.", "Mets un minuteur pour {duration}.", "set_timer"),
    T("start a timer for {duration} please", "Starte bitte einen Timer für {duration}.", "Lance un minuteur de {duration}, s'il te plaît.", "set_timer"),
    T("count down {duration}", "Zähle {duration} herunter.", "Compte à rebours {duration}.", "set_timer"),
    T("call {person}", "Ruf {person} an.", "Appelle {person}.", "call_contact"),
    T("please phone {person}", "Bitte telefoniere mit {person@dat}.", "Téléphone {person@a}, s'il te plaît.", "call_contact"),
    T("give {person} a call", "Ruf mal {person} an.", "Passe un coup de fil {person@a}.", "call_contact"),
    T("add {item} to my shopping list", "Setz {item} auf meine Einkaufsliste.", "Ajoute {item} à ma liste de courses.", "add_to_list"),
    T("put {item} on the shopping list", "Schreib {item} auf die Einkaufsliste.", "Mets {item} sur la liste de courses.", "add_to_list"),
    T("we need to buy {item}", "Wir müssen {item} kaufen.", "Nous devons acheter {item}.", "add_to_list"),
    T("turn the volume up", "Mach die Musik lauter.", "Monte le volume.", "volume_up"),
    T("louder please", "Lauter, bitte.", "Plus fort, s'il te plaît.", "volume_up"),
    T("increase the volume", "Erhöhe die Lautstärke.", "Augmente le volume.", "volume_up"),
    T("i can not hear it make it louder", "Ich höre es nicht, mach es lauter.", "Je n'entends pas, mets plus fort.", "volume_up"),
    T("turn the volume down", "Mach die Musik leiser.", "Baisse le volume.", "volume_down"),
    T("quieter please", "Leiser, bitte.", "Moins fort, s'il te plaît.", "volume_down"),
    T("decrease the volume", "Verringere die Lautstärke.", "Diminue le volume.", "volume_down"),
    T("it is too loud make it quieter", "Es ist zu laut, mach es leiser.", "C'est trop fort, baisse le son.", "volume_down"),
    T("what is the latest {topic} news", "Was gibt es Neues zum Thema {topic}?", "Quelles sont les dernières nouvelles sur {topic} ?", "news_query"),
    T("tell me the {topic} headlines", "Sag mir die Schlagzeilen zum Thema {topic}.", "Donne-moi les titres sur {topic}.", "news_query"),
    T("any news about {topic} {date}", "Gibt es {date} Nachrichten zum Thema {topic}?", "Des nouvelles sur {topic} {date} ?", "news_query"),
    T("book a taxi to {place}", "Bestelle ein Taxi nach {place}.", "Réserve un taxi pour {place}.", "order_taxi"),
    T("get me a cab to {place} at {time}", "Hol mir um {time} ein Taxi nach {place}.", "Trouve-moi un taxi pour {place} à {time}.", "order_taxi"),
    T("i need a taxi {date}", "Ich brauche {date} ein Taxi.", "J'ai besoin d'un taxi {date}.", "order_taxi"),
    T("add a {event} to my calendar for {date}", "Trage {event@acc} für {date} in meinen Kalender ein.", "Ajoute {event@indef} à mon agenda pour {date}.", "calendar_add"),
    T("schedule a {event} {date} at {time}", "Plane {event@acc} {date} um {time}.", "Planifie {event@indef} {date} à {time}.", "calendar_add"),
    T("put a {event} in my diary for {date}", "Schreib {event@acc} für {date} in meinen Kalender.", "Note {event@indef} dans mon agenda pour {date}.", "calendar_add"),
]

OPINIONS: list[Template] = [
    # positive
    T("i really loved the {thing}", "Ich habe {thing@acc} wirklich geliebt.", "J'ai vraiment adoré {thing@def}.", sentiment="positive"),
    T("the {thing} was absolutely wonderful", "{thing@nom} war absolut wunderbar.", "{thing@def} était absolument formidable.", sentiment="positive"),
    T("what a great experience i am so happy", "Was für ein tolles Erlebnis, ich bin so glücklich.", "Quelle belle expérience, je suis si content.", sentiment="positive"),
    T("i would happily recommend the {thing} to everyone", "Ich würde {thing@acc} gern allen empfehlen.", "Je recommanderais volontiers {thing@def} à tout le monde.", sentiment="positive"),
    T("the {thing} made my day", "{thing@nom} hat mir den Tag versüßt.", "{thing@def} a illuminé ma journée.", sentiment="positive"),
    T("honestly the {thing} was fantastic", "Ehrlich gesagt war {thing@nom} fantastisch.", "Franchement, {thing@def} était fantastique.", sentiment="positive"),
    T("i enjoyed the {thing} very much", "{thing@nom} hat mir sehr gefallen.", "J'ai beaucoup aimé {thing@def}.", sentiment="positive"),
    T("the {thing} was a lovely surprise", "{thing@nom} war eine schöne Überraschung.", "{thing@def} était une belle surprise.", sentiment="positive"),
    # negative
    T("i really hated the {thing}", "Ich habe {thing@acc} wirklich gehasst.", "J'ai vraiment détesté {thing@def}.", sentiment="negative"),
    T("the {thing} was absolutely terrible", "{thing@nom} war absolut schrecklich.", "{thing@def} était absolument horrible.", sentiment="negative"),
    T("what an awful experience i am so angry", "Was für ein schreckliches Erlebnis, ich bin so wütend.", "Quelle expérience horrible, je suis tellement en colère.", sentiment="negative"),
    T("i would never recommend the {thing} to anyone", "Ich würde {thing@acc} niemandem empfehlen.", "Je ne recommanderais {thing@def} à personne.", sentiment="negative"),
    T("the {thing} ruined my day", "{thing@nom} hat mir den Tag verdorben.", "{thing@def} a gâché ma journée.", sentiment="negative"),
    T("honestly the {thing} was a disaster", "Ehrlich gesagt war {thing@nom} eine Katastrophe.", "Franchement, {thing@def} était une catastrophe.", sentiment="negative"),
    T("i did not enjoy the {thing} at all", "{thing@nom} hat mir überhaupt nicht gefallen.", "Je n'ai pas du tout aimé {thing@def}.", sentiment="negative"),
    T("the {thing} was a big disappointment", "{thing@nom} war eine große Enttäuschung.", "{thing@def} était une grosse déception.", sentiment="negative"),
    # neutral
    T("the {thing} opens at nine", "{thing@nom} öffnet um neun.", "{thing@def} ouvre à neuf heures.", sentiment="neutral"),
    T("i read about the {thing} yesterday", "Ich habe gestern über {thing@acc} gelesen.", "J'ai lu un article sur {thing@def} hier.", sentiment="neutral"),
    T("the {thing} is next to the station", "{thing@nom} ist neben dem Bahnhof.", "{thing@def} est à côté de la gare.", sentiment="neutral"),
    T("my brother told me about the {thing}", "Mein Bruder hat mir von {thing@dat} erzählt.", "Mon frère m'a parlé {thing@de}.", sentiment="neutral"),
    T("the {thing} was mentioned in the paper", "{thing@nom} wurde in der Zeitung erwähnt.", "{thing@def} a été mentionné dans le journal.", sentiment="neutral"),
    T("we talked about the {thing} on monday", "Wir haben am Montag über {thing@acc} gesprochen.", "Nous avons parlé {thing@de} lundi.", sentiment="neutral"),
    T("the {thing} is listed on the website", "{thing@nom} steht auf der Webseite.", "{thing@def} figure sur le site web.", sentiment="neutral"),
    T("i will check the {thing} next week", "Ich schaue mir {thing@acc} nächste Woche an.", "Je regarderai {thing@def} la semaine prochaine.", sentiment="neutral"),
]
del T

SENTIMENTS: dict[str, str] = {
    "positive": "the speaker is pleased, praising or happy about something",
    "negative": "the speaker is displeased, complaining or unhappy about something",
    "neutral": "the speaker states a fact without expressing an opinion",
}

# Function words never counted as keywords (KWE) nor offered as KWS keywords.
STOPWORDS = frozenset(
    """a about all am an and any are at be by can did do for get give i in is it me my no not
    of on please put set so some the this to up us we what will would with you your at very
    really make made much more told how like""".split()
)

_PLACEHOLDER = re.compile(r"\{(\w+)(?:@(\w+))?\}")


@dataclass
class Sentence:
    """A filled template: the transcript and every label its words carry."""

    text: str  # lower-case transcript, no punctuation (the ASR reference)
    domain: str  # "command" or "opinion"
    template: int  # index of the template within its domain
    translations: dict[str, str]  # language code -> translation
    intent: str | None = None
    slots: list[tuple[str, str]] = field(default_factory=list)  # (type, value) in spoken order
    sentiment: str = "neutral"

    @property
    def keywords(self) -> list[str]:
        return content_words(self.text)


def content_words(text: str) -> list[str]:
    """The content words of a transcript, in order, without repeats (the KWE reference)."""
    out: list[str] = []
    for w in text.split():
        if w not in STOPWORDS and w not in out:
            out.append(w)
    return out


def _fill(tmpl: str, values: dict[str, Value], lang: str) -> str:
    def sub(m: re.Match) -> str:
        v = values[m.group(1)]
        if lang == "en":
            return v.en
        forms = v.de if lang == "de" else v.fr
        form = m.group(2) or ""
        text = forms.get(form, forms.get("", None))
        if text is None:
            raise KeyError(f"slot value {v.en!r} has no {lang} form {form!r} for template {tmpl!r}")
        return text

    out = _PLACEHOLDER.sub(sub, tmpl)
    return out[:1].upper() + out[1:]


def templates(domain: str) -> list[Template]:
    return {"command": COMMANDS, "opinion": OPINIONS}[domain]


def fill(domain: str, index: int, values: dict[str, Value]) -> Sentence:
    t = templates(domain)[index]
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)].en, t.en)
    order = [m.group(1) for m in _PLACEHOLDER.finditer(t.en)]
    slots = [(s, values[s].en) for s in order if s not in NON_SF_SLOTS]
    return Sentence(
        text=text,
        domain=domain,
        template=index,
        translations={lang: _fill(getattr(t, lang), values, lang) for lang in LANGUAGES},
        intent=t.intent,
        slots=slots,
        sentiment=t.sentiment,
    )


def slot_names(tmpl: Template) -> list[str]:
    return [m.group(1) for m in _PLACEHOLDER.finditer(tmpl.en)]


def sample_sentence(rng: random.Random, domain: str, template: int | None = None) -> Sentence:
    """A random filling of a random (or the given) template of ``domain``."""
    pool = templates(domain)
    index = rng.randrange(len(pool)) if template is None else template
    values = {s: rng.choice(SLOTS[s]) for s in dict.fromkeys(slot_names(pool[index]))}
    return fill(domain, index, values)


def fillings(domain: str, index: int) -> list[Sentence]:
    """Every filling of one template (the product of its slots' values), in a fixed order."""
    names = list(dict.fromkeys(slot_names(templates(domain)[index])))
    return [fill(domain, index, dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*(SLOTS[n] for n in names))]


def vocabulary() -> list[str]:
    """Every word any filled template can contain (sorted), for KWS negatives and tests."""
    words: set[str] = set()
    for t in COMMANDS + OPINIONS:
        words.update(_PLACEHOLDER.sub(" ", t.en).split())
    for values in SLOTS.values():
        for v in values:
            words.update(v.en.split())
    return sorted(words)

"""The look-alike bank's diagnoses: causes grouped by the picture they share.

A chest film narrows the question to a group (an effusion, a consolidation, a big heart, a nodule or mass,
a pneumothorax, a normal film); the story, the examination and the right tests decide the cause within it.
Most diagnoses also share a *theme* with members of other groups (infection, malignancy, smoking,
tuberculosis, alcohol, a young patient, a virus, a recent procedure), so a story on its own fits several
pictures: neither source alone decides a case. (Legionella's travel, ischaemic heart disease, trauma, atopy
and an incidental finding have no theme-mate; their facts also turn up in other patients' backgrounds.)

The answer is the cause; side and site are qualifiers the judge accepts and does not require.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.bank.lesions import LesionKind
from sim.bank.regions import Side, Zone


@dataclass(frozen=True)
class Group:
    key: str
    label: str  # what the picture shows, as a radiologist would say it
    lesion: LesionKind


GROUPS: dict[str, Group] = {
    "effusion": Group("effusion", "pleural effusion", "effusion"),
    "consolidation": Group("consolidation", "lobar consolidation", "consolidation"),
    "cardiac": Group("cardiac", "enlarged cardiac silhouette", "cardiomegaly"),
    "nodule": Group("nodule", "pulmonary nodule or mass", "nodule"),
    "pneumothorax": Group("pneumothorax", "pneumothorax", "pneumothorax"),
    "normal": Group("normal", "normal chest film", "none"),
}


Sites = tuple[tuple[Side, Zone, float], ...]


@dataclass(frozen=True)
class Diagnosis:
    key: str
    name: str
    aliases: tuple[str, ...]
    group: str
    theme: str  # the kind of story it shares with look-alikes of other groups
    # Where the picture's sign sits: (side, zone) choices with weights; () = not lateralised.
    sites: Sites = ()

    def all_names(self) -> list[str]:
        return [self.name, *self.aliases]


_EITHER_BASE: Sites = (("right", "lower", 1.0), ("left", "lower", 1.0))
_ANY_LOBE: Sites = (("right", "upper", 1.0), ("right", "mid", 1.0), ("right", "lower", 1.5),
             ("left", "upper", 1.0), ("left", "lower", 1.5))  # fmt: skip
_UPPER: Sites = (("right", "upper", 1.5), ("left", "upper", 1.0))
_ANY_ZONE: Sites = (("right", "upper", 1.0), ("right", "mid", 1.0), ("right", "lower", 1.0),
             ("left", "upper", 1.0), ("left", "mid", 1.0), ("left", "lower", 1.0))  # fmt: skip
_APEX_EITHER: Sites = (("right", "upper", 1.0), ("left", "upper", 1.0))

DIAGNOSES: tuple[Diagnosis, ...] = (
    # --- pleural effusion ---
    Diagnosis("parapneumonic_effusion", "Parapneumonic effusion",
              ("parapneumonic pleural effusion", "complicated parapneumonic effusion", "empyema", "pleural infection"),
              "effusion", "infection", _EITHER_BASE),
    Diagnosis("malignant_effusion", "Malignant pleural effusion",
              ("malignant effusion", "metastatic pleural effusion", "pleural metastases with effusion"),
              "effusion", "malignancy", _EITHER_BASE),
    Diagnosis("tuberculous_effusion", "Tuberculous pleural effusion",
              ("tuberculous pleurisy", "pleural tuberculosis", "TB pleural effusion", "tuberculous effusion"),
              "effusion", "tuberculosis", _EITHER_BASE),
    Diagnosis("hepatic_hydrothorax", "Hepatic hydrothorax",
              ("pleural effusion due to cirrhosis", "cirrhotic pleural effusion", "hepatic hydrothorax due to cirrhosis"),
              "effusion", "alcohol", (("right", "lower", 6.0), ("left", "lower", 1.0))),
    # --- lobar consolidation ---
    Diagnosis("pneumococcal_pneumonia", "Pneumococcal pneumonia",
              ("Streptococcus pneumoniae pneumonia", "pneumococcal lobar pneumonia", "pneumonia due to Streptococcus pneumoniae"),
              "consolidation", "infection", _ANY_LOBE),
    Diagnosis("legionella_pneumonia", "Legionella pneumonia",
              ("Legionnaires' disease", "Legionnaires disease", "Legionella pneumophila pneumonia", "legionellosis"),
              "consolidation", "travel", (("right", "lower", 1.0), ("left", "lower", 1.0), ("right", "mid", 0.5))),
    Diagnosis("aspiration_pneumonia", "Aspiration pneumonia",
              ("pneumonia due to aspiration", "aspiration pneumonitis with infection"),
              "consolidation", "alcohol", (("right", "lower", 4.0), ("right", "upper", 1.5), ("left", "lower", 1.0),
                                           ("right", "mid", 1.0))),
    Diagnosis("pulmonary_tuberculosis", "Pulmonary tuberculosis",
              ("active pulmonary tuberculosis", "reactivation tuberculosis", "pulmonary TB", "post-primary tuberculosis"),
              "consolidation", "tuberculosis", _UPPER),
    # --- enlarged cardiac silhouette ---
    Diagnosis("ischaemic_cardiomyopathy", "Ischaemic cardiomyopathy",
              ("ischemic cardiomyopathy", "ischaemic heart failure", "ischemic heart failure",
               "heart failure due to coronary artery disease"),
              "cardiac", "vascular"),
    Diagnosis("alcoholic_cardiomyopathy", "Alcoholic cardiomyopathy",
              ("alcohol-related dilated cardiomyopathy", "alcoholic dilated cardiomyopathy",
               "alcohol-induced cardiomyopathy"),
              "cardiac", "alcohol"),
    Diagnosis("pericardial_effusion", "Malignant pericardial effusion",
              ("pericardial effusion due to malignancy", "malignant pericardial effusion with tamponade",
               "metastatic pericardial effusion"),
              "cardiac", "malignancy"),
    Diagnosis("viral_myocarditis", "Viral myocarditis",
              ("acute viral myocarditis", "acute myocarditis", "myocarditis"),
              "cardiac", "viral"),
    # --- pulmonary nodule or mass ---
    Diagnosis("lung_cancer", "Primary lung cancer",
              ("lung cancer", "bronchogenic carcinoma", "non-small cell lung cancer", "lung adenocarcinoma",
               "squamous cell carcinoma of the lung", "lung carcinoma"),
              "nodule", "smoker", _ANY_ZONE),
    Diagnosis("pulmonary_metastases", "Pulmonary metastases",
              ("lung metastases", "metastatic disease of the lung", "pulmonary metastatic disease",
               "metastases to the lung"),
              "nodule", "malignancy", _ANY_ZONE),
    Diagnosis("tuberculoma", "Tuberculoma",
              ("tuberculous granuloma", "healed tuberculous granuloma", "calcified tuberculous granuloma"),
              "nodule", "tuberculosis", _UPPER),
    Diagnosis("hamartoma", "Pulmonary hamartoma",
              ("hamartoma of the lung", "lung hamartoma", "benign pulmonary hamartoma"),
              "nodule", "incidental", _ANY_ZONE),
    # --- pneumothorax ---
    Diagnosis("primary_pneumothorax", "Primary spontaneous pneumothorax",
              ("primary pneumothorax", "spontaneous pneumothorax in a healthy lung"),
              "pneumothorax", "young", _APEX_EITHER),
    Diagnosis("secondary_pneumothorax", "Secondary spontaneous pneumothorax",
              ("secondary pneumothorax", "pneumothorax secondary to COPD", "pneumothorax due to emphysema"),
              "pneumothorax", "smoker", _APEX_EITHER),
    Diagnosis("traumatic_pneumothorax", "Traumatic pneumothorax",
              ("post-traumatic pneumothorax", "pneumothorax due to rib fracture", "pneumothorax after chest trauma"),
              "pneumothorax", "trauma", _APEX_EITHER),
    Diagnosis("iatrogenic_pneumothorax", "Iatrogenic pneumothorax",
              ("procedure-related pneumothorax", "post-procedural pneumothorax",
               "pneumothorax after central line insertion"),
              "pneumothorax", "procedure", _APEX_EITHER),
    # --- normal film ---
    Diagnosis("asthma", "Acute asthma exacerbation",
              ("asthma exacerbation", "acute asthma", "asthma attack", "exacerbation of asthma"),
              "normal", "atopy"),
    Diagnosis("bronchitis", "Acute bronchitis",
              ("acute viral bronchitis", "acute tracheobronchitis", "viral bronchitis"),
              "normal", "viral"),
    Diagnosis("pulmonary_embolism", "Pulmonary embolism",
              ("acute pulmonary embolism", "pulmonary thromboembolism", "PE"),
              "normal", "procedure"),
    Diagnosis("panic_attack", "Panic attack",
              ("panic disorder", "anxiety attack", "hyperventilation due to anxiety", "panic attack with hyperventilation"),
              "normal", "young"),
)  # fmt: skip

BY_KEY = {d.key: d for d in DIAGNOSES}


def members(group: str) -> list[Diagnosis]:
    return [d for d in DIAGNOSES if d.group == group]
